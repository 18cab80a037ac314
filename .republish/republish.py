"""On the fix-schedule worktree: retrain the given chapters' standard runs (2 workers, stale published too)."""
import sys

if __name__ == "__main__":
    from wpcore.fanout import train_missing
    out = train_missing("standard", sys.argv[1:], workers=2, retrain_stale=True)
    print(len(out), "outcomes")
