"""Per chapter: records, summed walls (thread-h), first and last created, from fix-schedule's published records + runs/."""
import json, glob, collections
from datetime import datetime
by = collections.defaultdict(list)
task2ch = {"classify": "wide_resnets", "attention": "attention", "dirac": "diracnets", "patches": "patches",
           "patch-sift": "patches", "detect": "multipath"}
seen = {}
for f in glob.glob('/work/fix-schedule/results/standard/*.json') + glob.glob('/work/fix-schedule/runs/*.json'):
    d = json.load(open(f)); seen[d['key']] = d
for d in seen.values():
    if d['created'] < '2026-12-06T22': continue
    by[task2ch[d['config']['task']]].append(d)
tot = 0
for ch, ds in by.items():
    w = sum(d['wall_time_s'] for d in ds); tot += w
    print(f"{ch:13s} {len(ds):3d} records  {w/3600:5.2f} thread-h  half: {w/7200:4.2f} h   created {min(d['created'] for d in ds)[:16]} .. {max(d['created'] for d in ds)[:16]}")
print(f"all {sum(len(v) for v in by.values())} records {tot/3600:.2f} thread-h, {tot/7200:.2f} h of 2 cores")
