#!/usr/bin/env python3
"""tests/integration/pprof_check.py: a pprof file read by `go tool pprof`
against the folded export of the same run.

  pprof_check.py raw KIND PROFILE FOLDED    -raw: sample types, period, time,
                                            labels, and every stack's value
  pprof_check.py top KIND PROFILE FOLDED    -top: the total and the hottest
                                            function's flat value

Stacks are rebuilt from -raw as the folded export writes them: the comm
label, user frames root first, then kernel frames (addresses in the kernel's
half, named with _[k]); the folded file's "-" separator frames are dropped
before comparing. Values in the folded file are samples (oncpu) or
microseconds (offcpu, futex: the profile's nanoseconds summed per stack,
then divided by 1000). Prints PASS/FAIL lines."""
import re
import subprocess
import sys

KERNEL_HALF = 0xFFFF800000000000
TYPES = {
    "oncpu": ["samples/count", "cpu/nanoseconds"],
    "offcpu": ["switches/count", "offcpu/nanoseconds"],
    "futex": ["contentions/count", "delay/nanoseconds"],
}


def out(ok, name, why=""):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))
    return ok


def pprof(*args):
    r = subprocess.run(["go", "tool", "pprof", "-symbolize=none"] + list(args),
                       capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def parse_raw(text):
    """-raw output: header fields, samples (values, location ids, labels),
    locations (id -> (address, mapping or None, name)), mappings."""
    p = {"samples": [], "locations": {}, "mappings": {}, "types": []}
    section = "header"
    sample = None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line.rstrip(":").lower()
            continue
        if section == "header":
            k, _, v = line.partition(": ")
            p[k] = v
        elif section == "samples":
            m = re.match(r"^\s+(-?\d+(?:\s+-?\d+)*): ?([\d ]*)$", line)
            if not p["types"]:
                p["types"] = [t.replace("[dflt]", "") for t in line.split()]
                p["default"] = [t for t in line.split() if t.endswith("[dflt]")]
            elif m:
                sample = {"values": [int(v) for v in m.group(1).split()],
                          "locs": [int(x) for x in m.group(2).split()], "labels": {}}
                p["samples"].append(sample)
            elif sample is not None:
                for k, v in re.findall(r"(\w+):\[([^\]]*)\]", line):
                    sample["labels"][k] = v
        elif section == "locations":
            m = re.match(r"^\s*(\d+): 0x([0-9a-f]+) (?:M=(\d+) )?(.*) (\S*):(\d+) s=\d+$", line)
            if m:
                p["locations"][int(m.group(1))] = (int(m.group(2), 16), m.group(3), m.group(4))
        elif section == "mappings":
            m = re.match(r"^(\d+): 0x([0-9a-f]+)/0x([0-9a-f]+)/0x([0-9a-f]+) (\S*) ?(\S*)", line)
            if m:
                p["mappings"][int(m.group(1))] = (int(m.group(2), 16), int(m.group(3), 16),
                                                  m.group(5), m.group(6))
    return p


def folded_of(p, s):
    user, kernel = [], []
    for lid in s["locs"]:
        addr, mapping, name = p["locations"][lid]
        if mapping and addr >= KERNEL_HALF:
            kernel.insert(0, name + "_[k]")
        else:
            user.insert(0, name)
    return ";".join([s["labels"].get("comm", "?")] + user + kernel)


def read_folded(path):
    stacks = {}
    for line in open(path):
        stack, _, v = line.rstrip("\n").rpartition(" ")
        key = ";".join(f for f in stack.split(";") if f != "-")
        stacks[key] = stacks.get(key, 0) + int(v)
    return stacks


def profile_stacks(p, kind):
    """folded stack -> value in the folded export's unit."""
    sums = {}
    for s in p["samples"]:
        k = folded_of(p, s)
        v = s["values"][0] if kind == "oncpu" else s["values"][1]
        sums[k] = sums.get(k, 0) + v
    if kind != "oncpu":
        sums = {k: v // 1000 for k, v in sums.items()}
    return {k: v for k, v in sums.items() if v}


def check_raw(kind, path, folded_path):
    tag = "pprof %s" % kind
    rc, text, err = pprof("-raw", path)
    if not out(rc == 0 and "Samples:" in text, tag + ": go tool pprof -raw reads it",
               "rc %d: %s" % (rc, err.strip()[-300:])):
        return
    p = parse_raw(text)
    out(p["types"] == TYPES[kind] and p["default"] == [TYPES[kind][1] + "[dflt]"],
        tag + ": sample types %s, the time one the default" % " + ".join(TYPES[kind]),
        "types %s default %s" % (p["types"], p.get("default")))
    if kind == "oncpu":
        period = int(p.get("Period", "0"))
        out(p.get("PeriodType") == "cpu nanoseconds" and period == 10101010,
            tag + ": period_type cpu/nanoseconds, period 1e9/99 Hz",
            "PeriodType %r Period %r" % (p.get("PeriodType"), p.get("Period")))
        out(all(s["values"][1] == s["values"][0] * period for s in p["samples"]),
            tag + ": cpu nanoseconds = samples x period in every sample",
            str([s["values"] for s in p["samples"]][:3]))
    else:
        out(p.get("Period", "0") == "0", tag + ": no period (not a sampled profile)",
            p.get("Period", ""))
    out(p.get("Time", "").startswith("20") and float(p.get("Duration", "0")) > 0.1,
        tag + ": time_nanos and duration_nanos set", "Time %r Duration %r" %
        (p.get("Time"), p.get("Duration")))
    keys = {"pid", "tid", "comm"} | ({"futex", "lock", "lock_class"} if kind == "futex" else set())
    out(p["samples"] and all(keys <= set(s["labels"]) for s in p["samples"]),
        tag + ": every sample is labelled %s" % ", ".join(sorted(keys)),
        str([s["labels"] for s in p["samples"]][:2]))
    maps = list(p["mappings"].values())
    # the kernel's mapping is there exactly when the run's folded export has a
    # kernel frame: a short on-CPU run of user code may sample none
    kframes = any(f.endswith("_[k]") for k in read_folded(folded_path) for f in k.split(";"))
    out(any(m[2] == "[kernel.kallsyms]" for m in maps) == kframes and
        any(m[2].startswith("/") and re.fullmatch(r"[0-9a-f]{40}", m[3] or "") for m in maps),
        tag + ": mappings name the files with their build ids (and the kernel's iff a kernel frame is folded)",
        str(maps[:4]))
    prof = profile_stacks(p, kind)
    fold = read_folded(folded_path)
    missing = {k: v for k, v in fold.items() if prof.get(k) != v}
    extra = {k: v for k, v in prof.items() if k not in fold}
    out(fold and not missing and not extra,
        tag + ": every stack's value equals the folded export's (%d stacks)" % len(fold),
        "folded-only/different %s; profile-only %s" % (list(missing.items())[:2],
                                                      list(extra.items())[:2]))
    top_f = max(fold.items(), key=lambda kv: kv[1]) if fold else None
    top_p = max(prof.items(), key=lambda kv: kv[1]) if prof else None
    out(top_f and top_p and prof.get(top_f[0]) == top_f[1] == top_p[1],
        tag + ": the top stack is the folded export's top stack", "%s vs %s" % (top_f, top_p))


def check_top(kind, path, folded_path):
    tag = "pprof %s" % kind
    index = TYPES[kind][0 if kind == "oncpu" else 1].split("/")[0]
    args = ["-top", "-sample_index=" + index, "-nodecount=5"] + ([] if kind == "oncpu" else ["-unit=us"])
    rc, text, err = pprof(*(args + [path]))
    m = re.search(r"Showing nodes accounting for [\d.]+\w*, [\d.]+% of ([\d.]+)(\w*) total", text)
    rows = re.findall(r"^\s*([\d.]+)(\w*)\s+[\d.]+%\s+[\d.]+%\s+[\d.]+\w*\s+[\d.]+%\s+(\S.*)$",
                      text, re.M)
    if not out(rc == 0 and m and rows, tag + ": go tool pprof -top reads it",
               "rc %d: %s %s" % (rc, err.strip()[-200:], text[:300])):
        return
    fold = read_folded(folded_path)
    total = float(m.group(1))
    leaves = {}
    for stack, v in fold.items():
        leaf = stack.split(";")[-1]
        leaf = leaf[:-4] if leaf.endswith("_[k]") else leaf
        leaves[leaf] = leaves.get(leaf, 0) + v
    top_flat, _, top_name = rows[0]
    best = max(leaves.values())
    if kind == "oncpu":
        out(total == sum(fold.values()), tag + ": -top total samples = the folded total",
            "%s vs %d" % (total, sum(fold.values())))
        out(int(top_flat) == best and leaves.get(top_name.strip()) == best,
            tag + ": -top's hottest function and its samples are the folded leaves'",
            "%s %s vs %s" % (top_name, top_flat, sorted(leaves.items(), key=lambda kv: -kv[1])[:2]))
    else:
        # the folded export rounds each stack down to whole us: at most 1 us each
        n = len(fold)
        out(0 <= total - sum(fold.values()) <= n,
            tag + ": -top total (us) = the folded total, within its rounding",
            "%s us vs %d us over %d stacks" % (total, sum(fold.values()), n))
        out(0 <= float(top_flat) - best <= n and abs(leaves.get(top_name.strip(), -1e18) - best) <= n,
            tag + ": -top's hottest function and its time are the folded leaves'",
            "%s %s us vs %s" % (top_name, top_flat, sorted(leaves.items(), key=lambda kv: -kv[1])[:2]))


if __name__ == "__main__":
    what, kind, path, folded_path = sys.argv[1:5]
    (check_raw if what == "raw" else check_top)(kind, path, folded_path)
