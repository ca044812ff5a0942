#!/bin/sh
# chatkit-onprem offline bundle: verify, then install. Needs only sh, sha256sum, python3.11.
#
#   ./install.sh verify [--keyring pubring.gpg]   check SHA256SUMS (and its signature) only
#   ./install.sh venv DIR [--keyring ...]         verify, then install into a new virtualenv DIR
#
# Nothing is installed unless every file matches SHA256SUMS and no file is unlisted.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
abspath() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s/%s\n' "$(pwd)" "$1" ;; esac; }

usage() { sed -n '2,7p' "$0" >&2; exit 2; }
[ $# -ge 1 ] || usage
action=$1; shift
target=
if [ "$action" = venv ]; then
  [ $# -ge 1 ] || usage
  target=$(abspath "$1"); shift
fi
keyring=
while [ $# -gt 0 ]; do
  case $1 in
    --keyring) keyring=$(abspath "$2"); shift 2 ;;
    *) usage ;;
  esac
done

cd "$here"

verify() {
  if [ -n "$keyring" ]; then
    [ -f SHA256SUMS.asc ] || { echo "install.sh: --keyring given but SHA256SUMS.asc is missing" >&2; exit 1; }
    gpg --batch --no-default-keyring --keyring "$keyring" --verify SHA256SUMS.asc SHA256SUMS \
      || { echo "install.sh: SHA256SUMS signature is NOT valid" >&2; exit 1; }
  fi
  sha256sum --check --strict --quiet SHA256SUMS \
    || { echo "install.sh: checksum mismatch or missing file; NOT installing" >&2; exit 1; }
  # A file that is not listed was not built with the bundle: refuse it too.
  listed=$(sed 's/^[0-9a-f]*  //' SHA256SUMS | sort)
  present=$(find . -type f ! -name SHA256SUMS ! -name SHA256SUMS.asc | sed 's|^\./||' | sort)
  if [ "$listed" != "$present" ]; then
    echo "install.sh: files present but not in SHA256SUMS; NOT installing:" >&2
    printf '%s\n' "$present" | grep -vxF "$listed" >&2 || true
    exit 1
  fi
  echo "install.sh: all $(wc -l < SHA256SUMS) files match SHA256SUMS"
}

case $action in
  verify) verify ;;
  venv)
    verify
    py=${PYTHON:-python3}
    "$py" -c 'import sys; assert sys.version_info[:2] == (3, 11), "the wheelhouse is for CPython 3.11"'
    "$py" -m venv "$target"
    "$target/bin/python" -m pip install --quiet --disable-pip-version-check --no-index \
      --find-links wheelhouse --only-binary :all: --require-hashes -r requirements/lock.txt
    # The project's own wheel is not in lock.txt: SHA256SUMS (checked above) covers it.
    "$target/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
      wheelhouse/chatkit_onprem-*.whl
    "$target/bin/chatkit-onprem" version
    echo "install.sh: installed into $target (start: $target/bin/chatkit-onprem serve --config FILE)"
    ;;
  *) usage ;;
esac
