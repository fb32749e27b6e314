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
# The category check: a random forest on the envelope features (docs/study.md: the category
# check's classifier), trained on the hand labels (rows not marked ambiguous) of the five libraries
# the study draws on, grouped as the three libraries, with the built-in corpus as a fourth group
# that every fold trains on and none validates or holds out.
five='^(lmms|hydrogen|freedesktop|oxygen|icons)$'
ref="$root/reference-src"
mkdir -p "$ref"
for d in lmms hydrogen freedesktop oxygen icons; do ln -sfn "$root/sounds/$d" "$ref/$d"; done
[ -s "$ref/corpus/labels.csv" ] ||
  $gg corpus "$ref/corpus" --per-class 48 --seed 11 --preset "$preset" >/dev/null
{ awk -F, -v five="$five" 'NR == 1 { print "file,label"; next }
    $4 == "no" && $2 ~ five { print $1 "," $3 }' "$repo/docs/real-audio-reference.csv"
  awk 'NR > 1 { print "corpus/" $0 }' "$ref/corpus/labels.csv"; } > "$root/reference-labels.csv"
{ awk -F, -v five="$five" 'NR == 1 { print "file,library"; next } $4 == "no" && $2 ~ five {
    lib = ($2 == "lmms" || $2 == "hydrogen") ? $2 : "desktop"; print $1 "," lib }' \
    "$repo/docs/real-audio-reference.csv"
  awk -F, 'NR > 1 { print "corpus/" $1 ",corpus" }' "$ref/corpus/labels.csv"; } \
  > "$root/reference-groups.csv"
printf 'model: features\ntrain_only: [corpus]\n' > "$root/checker.yaml"
[ -f "$root/reference-corpus-$preset/dataset.json" ] ||
  $gg prepare "$ref" "$root/reference-corpus-$preset" --preset "$preset" \
    --labels "$root/reference-labels.csv" --align onset
[ -f "$root/lolo-features-$preset/lolo.json" ] ||
  $gg classifier lolo "$root/reference-corpus-$preset" --groups "$root/reference-groups.csv" \
    --config "$root/checker.yaml" --out "$root/lolo-features-$preset"
[ "${PREPARE_ONLY:-0}" = 1 ] && exit 0
printf 'preset: %s\n' "$preset" > "$root/train-$preset.yaml"
$gg study --data "$root/data-$preset/lmms,$root/data-$preset/hydrogen,$root/data-$preset/desktop" \
  --seeds "$seeds" --budget "$minutes" --category-check "$root/lolo-features-$preset" \
  --train-config "$root/train-$preset.yaml" --out "$root/study-$preset"
