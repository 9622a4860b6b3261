/**
 * Applies one file's unified diff to that file's text, as EditBench's reference does with
 * `patch --batch --fuzz=1` on a single file: hunks in order, each found at its line number plus
 * the offset of the hunks before it, else searched outward (after before before, like GNU
 * patch), else with one line of context dropped at each end (fuzz 1). Throws when a hunk does
 * not apply or the patch is already applied.
 */

interface Hunk {
  oldStart: number;
  old: string[];
  new: string[];
  /** Leading and trailing context lines (what fuzz may drop). */
  lead: number;
  trail: number;
}

export class HunkError extends Error {
  override readonly name = "HunkError";
}

/** Hunks of a one-file diff; each takes as many lines as its header counts (extra lines are ignored, an empty line is an empty context line, as GNU patch reads them). */
export function parseHunks(diff: string): Hunk[] {
  const lines = diff.split("\n");
  const hunks: Hunk[] = [];
  for (let i = 0; i < lines.length; i++) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+\d+(?:,(\d+))? @@/.exec(lines[i] as string);
    if (!header) continue;
    let oldLeft = header[2] === undefined ? 1 : Number(header[2]);
    let newLeft = header[3] === undefined ? 1 : Number(header[3]);
    const hunk: Hunk = { oldStart: Number(header[1]), old: [], new: [], lead: 0, trail: 0 };
    let sawChange = false;
    while ((oldLeft > 0 || newLeft > 0) && i + 1 < lines.length) {
      const line = lines[++i] as string;
      const tag = line === "" ? " " : line[0];
      const text = `${line.slice(1)}\n`;
      if (tag === " ") {
        hunk.old.push(text);
        hunk.new.push(text);
        oldLeft--;
        newLeft--;
        if (sawChange) hunk.trail++;
        else hunk.lead++;
      } else if (tag === "-") {
        hunk.old.push(text);
        oldLeft--;
        sawChange = true;
        hunk.trail = 0;
      } else if (tag === "+") {
        hunk.new.push(text);
        newLeft--;
        sawChange = true;
        hunk.trail = 0;
      } else if (tag === "\\") {
        continue;
      } else {
        throw new HunkError(`malformed hunk line ${i + 1}: ${JSON.stringify(line.slice(0, 40))}`);
      }
      // "\ No newline at end of file" after a line: that line has no line end.
      if (lines[i + 1]?.startsWith("\\")) {
        if (tag !== "+") hunk.old[hunk.old.length - 1] = (hunk.old.at(-1) as string).slice(0, -1);
        if (tag !== "-") hunk.new[hunk.new.length - 1] = (hunk.new.at(-1) as string).slice(0, -1);
      }
    }
    if (oldLeft > 0 || newLeft > 0) throw new HunkError(`hunk at line ${hunk.oldStart} is cut short`);
    hunks.push(hunk);
  }
  return hunks;
}

/** Lines of `text`, each with its "\n" (the last may lack one). */
function lines(text: string): string[] {
  const out = text.split("\n").map((l) => `${l}\n`);
  const last = out.pop() as string;
  if (last !== "\n") out.push(last.slice(0, -1));
  return out;
}

function matchesAt(file: string[], at: number, old: string[], skipLead: number, skipTrail: number): boolean {
  if (at < 0 || at + old.length - skipLead - skipTrail > file.length) return false;
  for (let k = skipLead; k < old.length - skipTrail; k++)
    if (file[at + k - skipLead] !== old[k]) return false;
  return true;
}

export function applyHunks(text: string, diff: string, fuzz = 1): string {
  const file = lines(text);
  // `offset`: where the last hunk was found minus where it said (old-file lines, as GNU patch);
  // `delta`: lines added minus removed so far (the array is patched in place).
  let offset = 0;
  let delta = 0;
  for (const [index, hunk] of parseHunks(diff).entries()) {
    const expected = hunk.old.length === 0 ? hunk.oldStart : hunk.oldStart - 1;
    const guess = Math.max(0, expected + offset + delta);
    let placed: { at: number; skip: number } | undefined;
    for (let f = 0; f <= fuzz && !placed; f++) {
      const lead = Math.min(f, hunk.lead);
      const trail = Math.min(f, hunk.trail);
      if (f > 0 && lead === 0 && trail === 0) break;
      const old = hunk.old;
      const start = guess + lead;
      if (matchesAt(file, start, old, lead, trail)) placed = { at: start, skip: lead };
      for (let d = 1; !placed && (start + d <= file.length || start - d >= 0); d++) {
        if (matchesAt(file, start + d, old, lead, trail)) placed = { at: start + d, skip: lead };
        else if (matchesAt(file, start - d, old, lead, trail)) placed = { at: start - d, skip: lead };
      }
      if (placed) {
        const replaced = old.length - lead - trail;
        const newPart = hunk.new.slice(lead, hunk.new.length - trail);
        file.splice(placed.at, replaced, ...newPart);
        offset = placed.at - lead - delta - expected;
        delta += newPart.length - replaced;
      }
    }
    if (!placed) throw new HunkError(`hunk #${index + 1} (at line ${hunk.oldStart}) does not apply`);
  }
  return file.join("");
}
