#!/usr/bin/env bash
# Downloads a public dataset and verifies every file against checksums:
#   datasets/fetch.sh haxby2001    DEST   PyMVPA's Haxby et al. (2001) subject 1 (sha256 shipped here)
#   datasets/fetch.sh god          DEST   Horikawa & Kamitani (2017) Generic Object Decoding, BData (figshare md5)
#   datasets/fetch.sh horikawa2020 DEST   Horikawa et al. (2020) emotion videos, BData (figshare md5)
# Files already present and verified are not downloaded again; a file failing its checksum is
# removed and the script exits 1. Needs curl and a network connection.
set -euo pipefail
name=${1:?usage: datasets/fetch.sh NAME DEST}
dest=${2:?usage: datasets/fetch.sh NAME DEST}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dest"
command -v curl >/dev/null || { echo "fetch: curl is needed (apt-get install curl)" >&2; exit 1; }

# download URL FILE: to FILE.part, renamed when complete.
download() {
  mkdir -p "$(dirname "$2")"
  echo "fetch: $2" >&2
  curl -fL --retry 3 --progress-bar -o "$2.part" "$1"
  mv "$2.part" "$2"
}

# verify ALGO HASH FILE
verify() {
  local got
  got=$("$1sum" "$3" | cut -d' ' -f1)
  if [[ "$got" != "$2" ]]; then
    echo "fetch: checksum mismatch for $3: expected $1 $2, got $got; removed" >&2
    rm -f "$3"
    return 1
  fi
}

fetch_listed() {  # base URL + a SHA256SUMS file of relative paths
  local base=$1 sums=$2 status=0
  while read -r hash path; do
    local out="$dest/$path"
    if [[ -f "$out" ]] && verify sha256 "$hash" "$out" 2>/dev/null; then continue; fi
    download "$base/$path" "$out"
    verify sha256 "$hash" "$out" || status=1
  done < "$sums"
  return $status
}

fetch_figshare() {  # every file of a figshare article, checked against figshare's md5
  local article=$1 status=0
  local listing="$dest/.figshare-$article.json"
  curl -fsSL "https://api.figshare.com/v2/articles/$article/files?page_size=1000" -o "$listing"
  while IFS=$'\t' read -r fname url md5; do
    local out="$dest/$fname"
    if [[ -f "$out" ]] && verify md5 "$md5" "$out" 2>/dev/null; then continue; fi
    download "$url" "$out"
    verify md5 "$md5" "$out" || status=1
  done < <(/usr/bin/python3 -c '
import json, sys
for f in json.load(open(sys.argv[1])):
    print(f["name"], f["download_url"], f["computed_md5"], sep="\t")' "$listing")
  return $status
}

case "$name" in
  haxby2001)
    fetch_listed "https://raw.githubusercontent.com/PyMVPA/PyMVPA/master/mvpa2/data/haxby2001" "$here/haxby2001/SHA256SUMS" ;;
  god)
    fetch_figshare 7387130 ;;
  horikawa2020)
    fetch_figshare 11988351 ;;
  *)
    echo "fetch: unknown dataset '$name' (haxby2001, god, horikawa2020)" >&2; exit 2 ;;
esac
echo "fetch: $name complete in $dest" >&2
