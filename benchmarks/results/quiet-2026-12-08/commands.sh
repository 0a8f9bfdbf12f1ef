#!/bin/sh
# Quiet re-runs at the end of the 2026-12-08 night session (nothing else running).
cd /work/main
R=/work/notes/quiet4
mkdir -p $R
log() { echo "== $(date -u +%H:%M:%S) $1 | $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a $R/log.txt; }
export PYTHONPATH=src
P=/work/main/.venv/bin/python
log "engine year, session start (66af17a) then now, twice each interleaved"
for i in 1 2; do
  (cd /work/wt-old && PYTHONPATH=src timeout 600 $P benchmarks/bench_engine.py --only year --repeat 1 > $R/engine-year-old-$i.txt 2>&1)
  timeout 600 $P benchmarks/bench_engine.py --only year --repeat 1 --json $R/engine-year-$i.json > $R/engine-year-$i.txt 2>&1
done
log "rl now (with SustainDC)"
timeout 900 $P benchmarks/bench_rl.py --steps 2000 --batch 8,32 --dc-rl /work/peer-sustaindc/dc-rl --peer-venv /work/peer-sustaindc/venv --peer-steps 3000 --json $R/rl.json > $R/rl.txt 2>&1
log "fleet100 year now"
/usr/bin/time -v timeout 1200 $P benchmarks/bench_engine.py --only fleet100 --repeat 1 --json $R/fleet100.json > $R/fleet100.txt 2>&1
log "rl session start"
(cd /work/wt-old && PYTHONPATH=src timeout 900 $P benchmarks/bench_rl.py --steps 2000 --batch 8,32 > $R/rl-old.txt 2>&1)
log "done"
