"""Compare every record in fix-schedule's results/standard with main's published one of the same
config (schedule and label taken out): every number, and weights tensor by tensor."""
import glob, json, collections
from pathlib import Path
import torch
from wpcore.records import read
from wpcore.verify import difference
from wpcore.safe import load_safetensors

def norm(c):
    c = json.loads(json.dumps(c)); c.pop("schedule", None); c.pop("label", None)
    t = c.get("options", {}).get("teacher")
    if t: t.pop("schedule", None); t.pop("label", None)
    return json.dumps(c, sort_keys=True)

pub = {norm(r.config): r for r in (read(Path(f)) for f in glob.glob("/work/main/results/standard/*.json"))}
n, same_created, worst, wfiles, wdiff, missing = 0, 0, 0.0, 0, 0, []
per = collections.Counter()
for f in sorted(glob.glob("/work/fix-schedule/results/standard/*.json")):
    r = read(Path(f)); p = pub.pop(norm(r.config), None)
    if p is None: missing.append(r.key); continue
    if p.created == r.created: same_created += 1; continue
    d, where = difference(p, r); n += 1; per[r.config.get("task")] += 1
    if d > worst: worst = d; print("diff", r.key, d, where)
    if p.weights_path.exists() and r.weights_path.exists():
        a, b = load_safetensors(p.weights_path), load_safetensors(r.weights_path); wfiles += 1
        if not (a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)): wdiff += 1
print(f"retrained and compared: {n} {dict(per)}; not retrained (same created): {same_created}; "
      f"largest difference {worst}; weights files compared {wfiles}, differing {wdiff}; "
      f"without a counterpart here: {missing}; main records unmatched: {len(pub)}")
