#!/usr/bin/env bash
# The study of docs/study.md (issue 37): three real libraries, each sorted by the labeler and
# prepared with a quarter of its source files held out; every run judged on those held-out clips by
# the independent judge, and its categories checked by a classifier trained on the OTHER libraries'
# hand labels (docs/real-audio-reference.csv). Resumable: run it again after an interruption.
# Usage: scripts/study-proof.sh DIR [MINUTES [SEEDS [PRESET]]]   (defaults: 30, 0,1,2, sketch)
# The libraries: lmms, hydrogen, and desktop = freedesktop + oxygen + icons together.
# PREPARE_ONLY=1 stops before training (the data and the category check are ready then).
set -euo pipefail
root=${1:?usage: study-proof.sh DIR [MINUTES [SEEDS [PRESET]]]}
minutes=${2:-30}; seeds=${3:-0,1,2}; preset=${4:-sketch}
gg=${GESTUREGAN:-gesturegan}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$root" && root=$(cd "$root" && pwd)
"$repo/scripts/fetch-real-audio.sh" "$root" lmms hydrogen freedesktop oxygen icons >/dev/null
libs="$root/libraries"
mkdir -p "$libs/desktop" "$root/sorted" "$root/data-$preset"
ln -sfn "$root/sounds/lmms" "$libs/lmms"
ln -sfn "$root/sounds/hydrogen" "$libs/hydrogen"
for d in freedesktop oxygen icons; do ln -sfn "$root/sounds/$d" "$libs/desktop/$d"; done
for lib in lmms hydrogen desktop; do
  [ -s "$root/sorted/$lib.csv" ] || $gg label "$libs/$lib" --csv "$root/sorted/$lib.csv" >/dev/null
  [ -f "$root/data-$preset/$lib/dataset.json" ] ||
    $gg prepare "$libs/$lib" "$root/data-$preset/$lib" --preset "$preset" \
      --labels "$root/sorted/$lib.csv" --align onset --holdout 0.25 --seed 0
done
# The category check: the hand labels (rows not marked ambiguous) of the five libraries the study
# draws on, grouped as the three libraries.
five='^(lmms|hydrogen|freedesktop|oxygen|icons)$'
awk -F, -v five="$five" 'NR == 1 { print "file,label"; next }
  $4 == "no" && $2 ~ five { print $1 "," $3 }' \
  "$repo/docs/real-audio-reference.csv" > "$root/reference-labels.csv"
awk -F, -v five="$five" 'NR == 1 { print "file,library"; next } $4 == "no" && $2 ~ five {
  lib = ($2 == "lmms" || $2 == "hydrogen") ? $2 : "desktop"; print $1 "," lib }' \
  "$repo/docs/real-audio-reference.csv" > "$root/reference-groups.csv"
[ -f "$root/reference-$preset/dataset.json" ] ||
  $gg prepare "$root/sounds" "$root/reference-$preset" --preset "$preset" \
    --labels "$root/reference-labels.csv" --align onset
[ -f "$root/lolo-$preset/lolo.json" ] ||
  $gg classifier lolo "$root/reference-$preset" --groups "$root/reference-groups.csv" \
    --out "$root/lolo-$preset"
[ "${PREPARE_ONLY:-0}" = 1 ] && exit 0
printf 'preset: %s\n' "$preset" > "$root/train-$preset.yaml"
$gg study --data "$root/data-$preset/lmms,$root/data-$preset/hydrogen,$root/data-$preset/desktop" \
  --seeds "$seeds" --budget "$minutes" --category-check "$root/lolo-$preset" \
  --train-config "$root/train-$preset.yaml" --out "$root/study-$preset"
