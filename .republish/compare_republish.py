"""Compare the fix-schedule worktree's retrained records (runs/) with main's published ones, matched
by their configs with the schedule (and teachers' schedules) taken out. python compare_republish.py"""
import glob, json, sys
from pathlib import Path
from wpcore.records import read
from wpcore.verify import difference

def norm(c):
    c = json.loads(json.dumps(c))
    c.pop("schedule", None); c.pop("label", None)
    t = c.get("options", {}).get("teacher")
    if t: t.pop("schedule", None); t.pop("label", None)
    return json.dumps(c, sort_keys=True)

pub = {}
for f in glob.glob("/work/main/results/standard/*.json"):
    r = read(Path(f)); pub[norm(r.config)] = r
rows, worst = [], 0.0
for f in sorted(glob.glob("/work/fix-schedule/runs/*.json")):
    r = read(Path(f)); p = pub.get(norm(r.config))
    if p is None:
        rows.append(f"{r.key} {r.config.get('label')}: no published counterpart"); continue
    d, where = difference(p, r)
    import hashlib
    pw, rw = Path(f"/work/main/results/standard/{p.key}.safetensors"), Path(f).with_suffix(".safetensors")
    if pw.exists() and rw.exists():
        from safetensors.torch import load_file
        a, b = load_file(str(pw)), load_file(str(rw))
        same = a.keys() == b.keys() and all(bool((a[k] == b[k]).all()) for k in a)
        where += "; weights " + ("equal" if same else "DIFFER")
        if not same: d = float("inf")
    worst = max(worst, d)
    rows.append(f"{p.key} -> {r.key}  {r.config.get('label', '')[:40]:40s} seed {r.config['seed']}: {d:g} ({where})")
print("\n".join(rows)); print(len(rows), "records compared; largest difference", worst)
