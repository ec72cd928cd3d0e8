#!/usr/bin/env bash
# Reproduces docs/results.md: each claim's variants, each over seeds 1..3
# (the training seed, `main.seed`), one run directory per run under
# runs/claims/CLAIM/VARIANT-seedN; then prints the summary tables.
#
#   scripts/claims.sh [CLAIM...]     claims: micon kg crossmodal cellclip handcrafted (default: all)
#
# EXP (default build/bin/exp), SEEDS ("1 2 3") and THREADS (each run's
# --threads, default all cores) may be set. A run whose metrics.json exists
# is kept, so an interrupted sweep resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
EXP="${EXP:-build/bin/exp}"
SEEDS="${SEEDS:-1 2 3}"
OUT="${OUT:-runs/claims}"

# run CLAIM VARIANT SPEC [OVERRIDES...]
run() {
  local claim="$1" variant="$2" spec="$3"
  shift 3
  for seed in $SEEDS; do
    local dir="$OUT/$claim/$variant-seed$seed"
    [[ -f "$dir/metrics.json" ]] && continue
    rm -rf "$dir"
    echo "== $claim/$variant seed $seed" >&2
    "$EXP" run "$spec" --run-dir "$dir" -q ${THREADS:+--threads "$THREADS"} main.seed="$seed" "$@" > /dev/null
  done
}

claim_micon() {
  run micon micon examples/micon.exp
  run micon direct examples/micon.exp main.objective=direct
}

claim_kg() {
  run kg kg_transcriptome examples/denovo_kg.exp
  run kg no_kg examples/denovo_kg.exp kg_weight=0
  run kg no_transcriptome examples/denovo_kg.exp condition_tokens=0
  run kg neither examples/denovo_kg.exp kg_weight=0 condition_tokens=0
}

# Image<->molecule: CLOOB (CLOOME) and CLIP on compounds with look-alikes
# (shared scaffolds); these runs also score the hand-crafted baseline.
claim_crossmodal() {
  run crossmodal cloob examples/cloome.exp main.epochs=10
  run crossmodal clip examples/cloome.exp main.objective=direct main.epochs=10
}

# Image<->text: CellCLIP's CWCL against CLIP on the same encoders, prompts
# naming compounds that share scaffolds (look-alikes).
claim_cellclip() {
  run cellclip cwcl examples/cellclip.exp
  run cellclip clip examples/cellclip.exp main.objective=direct
}

claim_handcrafted() {
  run handcrafted clip examples/clip_screen.exp
  run handcrafted simclr_and_hand_crafted examples/baselines.exp
}

claims=("$@")
[[ ${#claims[@]} -eq 0 ]] && claims=(micon kg crossmodal cellclip handcrafted)
for c in "${claims[@]}"; do
  "claim_$c"
done
python3 scripts/summarize_claims.py "$OUT" "${claims[@]}"
