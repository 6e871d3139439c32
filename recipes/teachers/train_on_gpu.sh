#!/usr/bin/env bash
# Train both embedded-default teachers on one GPU machine in a single time-boxed call, from a bare image
# that has PyTorch, torchaudio and transformers but none of this repository's other needs, and pack what
# must come back into files of at most 15 MiB:
#
#   1. install the wheels in .whl/ when present (`make device-wheels` fetches them: soundfile, jiwer,
#      espeakng-loader, hibari-tts, soxr, flashlight-text and their small dependencies; Piper stays behind,
#      so the unseen-engine split is not built there);
#   2. synthesise the training corpus (seed 0) and a fresh scoring corpus (seed 1) on every core;
#   3. train the wav2vec2 and the Whisper teacher side by side on the GPU, each time-boxed to $MINUTES with
#      its learning-rate schedule ending with the box (train.decay_over_wall);
#   4. pack each best/ directory as tar parts and the logs, then score both teachers on the scoring corpus
#      (recipes/teachers/report.py --out $RUNS/report) and pack the report (the repository is not written).
#
# Usage (defaults in brackets):
#   MINUTES=5.5 HOURS=5 EVAL_HOURS=3 DEST=$OUT bash recipes/teachers/train_on_gpu.sh
# Back home:
#   cat DEST/wav2vec2.tar.part* | tar -x -C runs/gpu_teachers/wav2vec2   # -> .../wav2vec2/best
#   tar -xzf DEST/reports.tgz
# Extra overrides per teacher: W2V_OVERRIDES="model.num_hidden_layers=2 ..." WHISPER_OVERRIDES="..." (the
# CPU rehearsal shrinks both with them).
set -euo pipefail
cd "$(dirname "$0")/../.."

MINUTES=${MINUTES:-5.5}
HOURS=${HOURS:-5}
EVAL_HOURS=${EVAL_HOURS:-3}
JOBS=${JOBS:-$(nproc)}
WORKERS=${WORKERS:-4}
RUNS=${RUNS:-runs/gpu}
DEST=${DEST:-${OUT:-runs/gpu_teachers_out}}
mkdir -p "$RUNS" "$DEST"
started=$(date +%s)
say() { echo "[train_on_gpu +$(( $(date +%s) - started ))s] $*" | tee -a "$DEST/progress.log" >&2; }

WHEELS=${WHEELS:-.whl}
if compgen -G "$WHEELS/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site "$WHEELS"/*.whl
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false
SD=(python3 -m speechdistill)
(command -v nvidia-smi > /dev/null && nvidia-smi -L || true) | tee -a "$DEST/progress.log"

say "corpus: ${HOURS} h (seed 0) and ${EVAL_HOURS} h (seed 1) on ${JOBS} processes"
"${SD[@]}" corpus synth --out "$RUNS/corpus" --hours "$HOURS" --seed 0 --jobs "$JOBS" > "$RUNS/corpus.log" 2>&1
"${SD[@]}" corpus synth --out "$RUNS/corpus_eval" --hours "$EVAL_HOURS" --seed 1 --jobs "$JOBS" > "$RUNS/corpus_eval.log" 2>&1
tail -n 1 "$RUNS/corpus.log" "$RUNS/corpus_eval.log" | tee -a "$DEST/progress.log"

tests=""
for split in test test_noisy test_unseen_voices test_unseen_engine; do
    [ -f "$RUNS/corpus/$split.jsonl" ] && tests="$tests${tests:+, }$split: $RUNS/corpus/$split.jsonl"
done
common=("data.train=$RUNS/corpus/train.jsonl" "data.dev=$RUNS/corpus/dev.jsonl" "data.test={$tests}"
        "train.max_wall_minutes=$MINUTES" "train.decay_over_wall=true" "train.num_workers=$WORKERS")
say "training both teachers side by side, ${MINUTES} min each"
# shellcheck disable=SC2086  # the override lists are word lists on purpose
"${SD[@]}" teacher train recipes/teachers/wav2vec2.yaml "out_dir=$RUNS/teachers/wav2vec2" "${common[@]}" \
    ${W2V_OVERRIDES:-} > "$RUNS/wav2vec2.log" 2>&1 &
w2v=$!
# shellcheck disable=SC2086
"${SD[@]}" teacher train recipes/teachers/whisper.yaml "out_dir=$RUNS/teachers/whisper" "${common[@]}" \
    ${WHISPER_OVERRIDES:-} > "$RUNS/whisper.log" 2>&1 &
whisper=$!
status=0
wait $w2v || { status=1; say "the wav2vec2 run failed: $(tail -n 3 "$RUNS/wav2vec2.log")"; }
wait $whisper || { status=1; say "the Whisper run failed: $(tail -n 3 "$RUNS/whisper.log")"; }

pack_logs() {
    tar -czf "$DEST/reports.tgz" --ignore-failed-read "$RUNS"/*.log "$RUNS"/teachers/*/log.jsonl \
        "$RUNS"/teachers/*/config.resolved.yaml "$RUNS"/teachers/*/best/README.md \
        "$RUNS"/report 2> /dev/null || true
}
for teacher in wav2vec2 whisper; do
    if [ -d "$RUNS/teachers/$teacher/best" ]; then
        tar -C "$RUNS/teachers/$teacher" -cf - best | split -b 15M -d - "$DEST/$teacher.tar.part"
        say "$teacher: $(grep -o 'dev WER [0-9.]*%' "$RUNS/$teacher.log" | tail -n 1 || echo 'no dev WER line')"
    fi
done
pack_logs

say "scoring on the seed-1 corpus"
report=()
for teacher in wav2vec2 whisper; do
    [ -d "$RUNS/teachers/$teacher/best" ] && report+=(--teacher "$teacher=$RUNS/teachers/$teacher/best")
done
if [ ${#report[@]} -gt 0 ]; then
    python3 recipes/teachers/report.py "${report[@]}" --corpus "$RUNS/corpus_eval" --work "$RUNS/teacher_eval" --out "$RUNS/report" \
        > "$RUNS/report.log" 2>&1 || { status=1; say "scoring failed: $(tail -n 3 "$RUNS/report.log")"; }
    pack_logs
fi
say "done (status $status); files in $DEST: $(ls "$DEST" | tr '\n' ' ')"
exit $status
