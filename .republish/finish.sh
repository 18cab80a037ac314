#!/bin/bash
# after multipath's retraining: publish it, compare the whole book with main's, check
cd /work/fix-schedule
export PYTHONPATH=$PWD
PY=/work/main/.venv/bin/python
$PY -m wpcore records --profile standard publish --chapter multipath 2>&1 | tail -3 | tee /work/logs/pub_multipath.log
$PY .republish/compare_all.py 2>&1 | tee /work/logs/compare_all.log
$PY -m wpcore records --check 2>&1 | tail -3 | tee /work/logs/check_final.log
$PY -m pytest -q -p no:cacheprovider tests/test_publish.py tests/test_packed.py tests/test_multipath.py 2>&1 | tail -3 | tee /work/logs/test_publish_final.log
git status --short | head -5
