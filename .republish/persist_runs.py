"""List the finished runs/ records of the given chapters at standard (current under this tree's code), with
the weights files a page needs: paths to force-add on the WIP branch. python persist_runs.py patches multipath"""
import sys
from pathlib import Path
from wpcore import publish, records
from wpcore.experiment import staleness

used = publish.used_experiments(["standard"], sys.argv[1:])
weights = publish.page_weight_keys("standard")
paths, n = [], 0
for key, (_, exp) in used.items():
    p = records.runs_dir() / f"{key}.json"
    if p.exists() and not staleness(records.read(p), exp):
        n += 1
        paths.append(str(p))
        w = p.with_suffix(".safetensors")
        if key in weights and w.exists():
            paths.append(str(w))
print("\n".join(paths))
print(f"{n} of {len(used)} records finished", file=sys.stderr)
