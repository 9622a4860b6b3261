#!/usr/bin/env bash
# Debian packages the test suite needs (run as root on a fresh Debian 12 machine):
#   bubblewrap      the bwrap sandbox
#   docker.io       dockerd for the docker sandbox tests (started by the tests themselves)
#   busybox-static  a tiny rootfs the docker tests import as an image (no registry pulls)
#   chromium        headless browser that checks report.html renders
#   python3-pytest  system pytest the code-edit harness tests run inside bwrap (which sees /usr only)
#   python3-sklearn scikit-learn's TfidfVectorizer: the reference the similarity scorer tests compare with
#   iverilog, python3-pip  Icarus Verilog and pip for cocotb: the cvdp harness tests (cocotb below)
set -euo pipefail
packages=(bubblewrap docker.io busybox-static chromium python3-pytest iverilog python3-pip python3-sklearn redis-server)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: need root to apt-get install ${missing[*]}" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# cocotb for the cvdp harnesses, into the system Python that bwrap sandboxes see (/usr/local);
# nltk: the reference the cvdp BLEU test checks against.
if ! /usr/bin/python3 -c "import cocotb, nltk" 2>/dev/null; then
  /usr/bin/python3 -m pip install -q --break-system-packages cocotb nltk >/dev/null
fi
echo "install-test-deps: ${packages[*]} cocotb nltk present"
