"""Reference for test/code-edit-similarity.test.ts: EditBench's metric_utils definitions, written
out in Python (its str.strip, re and round semantics), TF-IDF through scikit-learn when it is
installed. Reads [[reference, prediction], ...] as JSON on stdin, writes one object per pair."""
import json
import math
import re
import sys

META = re.compile(r"^(diff --git|index |--- |\+\+\+ |@@.*@@)")
COMMENT = re.compile(r"#.*$")
TOKEN = r"[a-zA-Z0-9_]+|[()\[\]{}:;,.+*/=<>!&|%^~@#-]"
FILE = re.compile(r"diff --git a/(\S+) b/\S+")


def preprocess(diff):
    if not diff:
        return ""
    out = []
    for line in diff.strip().split("\n"):
        line = line.strip()
        if META.match(line) or not line or line.startswith("#"):
            continue
        code = line[1:].strip() if line.startswith(("+", "-")) else line
        code = COMMENT.sub("", code).strip()
        if code:
            out.append(code)
    return "\n".join(out)


def tokens(code):
    return [t.strip() for t in re.findall(TOKEN, code) if t.strip()] if code else []


def levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def ned(a, b):
    if not a and not b:
        return 0.0
    return round(levenshtein(a, b) / max(len(a), len(b)), 4)


def jaccard(a, b):
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    sa, sb = set(a), set(b)
    return round(len(sa & sb) / len(sa | sb), 4)


def tfidf_manual(a, b):
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    ta, tb = tokens(a), tokens(b)
    vocab = set(ta) | set(tb)
    idf = {t: math.log(3 / (1 + (t in ta) + (t in tb))) + 1 for t in vocab}

    def vec(ts):
        v = {t: ts.count(t) * idf[t] for t in set(ts)}
        n = math.sqrt(sum(x * x for x in v.values()))
        return {t: x / n for t, x in v.items()} if n else {}

    va, vb = vec(ta), vec(tb)
    return round(sum(x * vb.get(t, 0.0) for t, x in va.items()), 4)


def tfidf(a, b):
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.metrics.pairwise import cosine_similarity
    except ImportError:
        return None
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    v = TfidfVectorizer(tokenizer=tokens, token_pattern=None, lowercase=False, stop_words=None)
    try:
        v.fit([a, b])
    except ValueError:  # empty vocabulary
        return 0.0
    m = v.transform([a, b])
    return round(float(cosine_similarity(m[0:1], m[1:2])[0][0]), 4)


def file_hit(gt, pred):
    g = set(FILE.findall(gt))
    p = set(FILE.findall(pred))
    return len(g & p) / len(g) if g else 0.0


out = []
for gt, pred in json.load(sys.stdin):
    gt, pred = gt.strip(), pred.strip()
    pg, pp = preprocess(gt), preprocess(pred)
    out.append(
        {
            "processed": [pg, pp],
            "edit_distance": ned(pg, pp),
            "token_jaccard": jaccard(tokens(pg), tokens(pp)),
            "tfidf_manual": tfidf_manual(pg, pp),
            "tfidf_sklearn": tfidf(pg, pp),
            "file_hit": file_hit(gt, pred),
        }
    )
json.dump(out, sys.stdout)
