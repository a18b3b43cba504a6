#!/usr/bin/env python3
"""Where the time went, from a Chrome trace written by `whisper-spec --trace FILE ...`.

For each span name: how many times it ran, its total time, its self time (minus the spans it
contains on the same thread) and the share of the traced wall time. Spans nest (transcribe >
window > encoder > encoder_block > encoder_attention...), so totals overlap; self times add up.

Usage: python3 benches/trace_summary.py TRACE.json [--top 25]
"""
import argparse, collections, json


def main():
    p = argparse.ArgumentParser()
    p.add_argument("trace")
    p.add_argument("--top", type=int, default=25)
    a = p.parse_args()
    with open(a.trace) as f:
        text = f.read().rstrip().rstrip(",")
    events = json.loads(text if text.endswith("]") else text + "]")
    stacks = collections.defaultdict(list)  # tid -> [(name, start, child time)]
    total = collections.Counter()
    self_time = collections.Counter()
    count = collections.Counter()
    first, last = None, None
    for e in events:
        ph, ts = e.get("ph"), e.get("ts")
        if ts is None or ph not in ("B", "E"):
            continue
        first = ts if first is None else min(first, ts)
        last = ts if last is None else max(last, ts)
        stack = stacks[e.get("tid")]
        if ph == "B":
            stack.append([e["name"], ts, 0.0])
        elif stack:
            name, start, children = stack.pop()
            d = ts - start
            total[name] += d
            self_time[name] += d - children
            count[name] += 1
            if stack:
                stack[-1][2] += d
    wall = (last - first) if first is not None else 0
    print(f"traced wall time {wall / 1e6:.3f} s")
    print(f"{'span':24} {'count':>8} {'total s':>9} {'self s':>9} {'self %':>7} {'mean ms':>9}")
    for name, t in sorted(self_time.items(), key=lambda kv: -kv[1])[: a.top]:
        print(f"{name:24} {count[name]:8} {total[name] / 1e6:9.3f} {t / 1e6:9.3f} "
              f"{100 * t / max(wall, 1):6.1f}% {total[name] / count[name] / 1e3:9.3f}")


if __name__ == "__main__":
    main()
