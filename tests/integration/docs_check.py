#!/usr/bin/env python3
"""tests/integration/docs_check.py POOLSCOPE TOP: the man pages and the bash
completion against the binary, so that neither drifts from it silently.

For run, attach, top and compare:
- every long option that `poolscope CMD --help` mentions is in the OPTIONS
  section of poolscope-CMD(8);
- the options the man page lists as items, the options the completion offers
  and the options --help lists are the same set, restricted to what the
  binary accepts (each is probed: `poolscope CMD OPT --help`, then with a
  value), and the man page and completion list nothing the binary refuses;
- an option takes a value for the binary iff the man page shows one and the
  completion completes a value after it.
For poolscope itself: the commands of --help, of poolscope(8) and of the
completion are the same. Prints PASS:/FAIL: lines.
"""
import os
import re
import subprocess
import sys

BIN, TOP = sys.argv[1], sys.argv[2]
COMPLETION = os.path.join(TOP, "completion", "poolscope.bash")
OPT_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z](?![\w-]))")


def report(name, ok, why=""):
    print(("PASS: " if ok else "FAIL: ") + name + ("" if ok else ": " + why))


def run(argv):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, timeout=30)


def sh(argv):
    p = run(argv)
    return p.returncode, p.stdout


def roff_plain(line):
    """A roff line as text: font escapes and quotes dropped, \\- as -."""
    line = re.sub(r"\\f[BIRP]", "", line).replace("\\-", "-").replace("\\e", "\\")
    return re.sub(r'^\.[A-Z]{1,2}\s*', "", line).replace('"', "")


def man_section(page, title):
    lines, inside = [], False
    for line in open(os.path.join(TOP, "man", page)):
        if line.startswith(".SH"):
            inside = line.split(None, 1)[1].strip().strip('"') == title
            continue
        if inside:
            lines.append(line.rstrip("\n"))
    return lines


def man_items(lines):
    """{option: takes a value} for the item tags (.TP/.TQ) of a section."""
    items = {}
    for prev, line in zip(lines, lines[1:]):
        if prev not in (".TP", ".TQ"):
            continue
        valued = line.startswith(".BI") or "\\fI" in line
        for opt in OPT_RE.findall(roff_plain(line)):
            items[opt] = valued
    return items


def complete(words):
    """COMPREPLY of the completion function for the command line `words`
    (the last one is the word being completed)."""
    script = ('. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
              '_poolscope; printf "%s\\n" "${COMPREPLY[@]}"')
    rc, out = sh(["bash", "-c", script, "complete", COMPLETION, BIN] + words)
    return [w for w in out.split("\n") if w] if rc == 0 else None


def probe(cmd, opt):
    """'flag', 'valued' or None (refused): how the binary takes opt. An
    option that getopt says needs a value is tried with 1, then with the
    first value its error message expects ("expected sched or syscalls");
    the command may still refuse it (compare --folded)."""
    if sh([BIN, cmd, opt, "--help"])[0] == 0:
        return "flag"
    if "needs a value" not in run([BIN, cmd, opt]).stderr:
        return None
    # options whose values have a shape of their own
    sample = {"--push": "http://127.0.0.1:1/", "--push-label": "k=v"}.get(opt, "1")
    p = run([BIN, cmd, opt, sample, "--help"])
    if p.returncode == 0:
        return "valued"
    expected = re.search(r"\(expected ([\w-]+)", p.stderr)
    if expected and sh([BIN, cmd, opt, expected.group(1), "--help"])[0] == 0:
        return "valued"
    return None


def help_tag_options(text):
    """Options of the help's option lines (two-space indent, then a dash),
    up to the description."""
    opts = set()
    for line in text.split("\n"):
        if re.match(r"^  -", line):
            tag = re.split(r"\s{2,}|: ", line.strip(), maxsplit=1)[0]
            opts |= set(OPT_RE.findall(tag))
    return opts


def check_command(cmd):
    page = "poolscope-%s.8" % cmd
    rc, helptext = sh([BIN, cmd, "--help"])
    if rc != 0 or not helptext.startswith("Usage:"):
        report("%s --help prints its usage" % cmd, False, "status %d" % rc)
        return
    options_text = "\n".join(roff_plain(l) for l in man_section(page, "OPTIONS"))
    mentioned = set(OPT_RE.findall(options_text))
    missing = sorted(o for o in set(OPT_RE.findall(helptext)) if o.startswith("--")
                     and o not in mentioned)
    report("every long option of `poolscope %s --help` is in %s OPTIONS" % (cmd, page),
           not missing, "missing: " + " ".join(missing))

    items = man_items(man_section(page, "OPTIONS"))
    offered = complete([cmd, "-"])
    if offered is None:
        report("completion of `poolscope %s -` runs" % cmd, False, "bash failed")
        return
    offered = set(offered)
    candidates = help_tag_options(helptext) | set(items) | offered
    how = {o: probe(cmd, o) for o in sorted(candidates)}
    accepted = {o for o, h in how.items() if h}
    for what, have in ((page, set(items)), ("the completion", offered),
                       ("--help", help_tag_options(helptext))):
        refused = sorted(have - accepted)
        report("%s: %s lists only options that poolscope %s accepts" % (cmd, what, cmd),
               not refused, "refused: " + " ".join(refused))
        if what == "--help":
            continue
        lacking = sorted(accepted - have)
        report("%s: %s lists every accepted option that --help, the man page or the "
               "completion names" % (cmd, what), not lacking, "lacking: " + " ".join(lacking))

    # After a flag the next word is free (run, compare: a workload; attach,
    # top: another option); after an option that takes a value it is that value.
    free = {"run": "cpu-threads", "compare": "cpu-threads", "attach": "--quiet"}.get(cmd, "--help")
    wrong_man, wrong_comp = [], []
    for o in sorted(accepted):
        valued = how[o] == "valued"
        if o in items and items[o] != valued:
            wrong_man.append(o)
        nxt = complete([cmd, o, ""]) or []
        if o in offered and (free in nxt) == valued:
            wrong_comp.append(o)
    report("%s: %s shows a value for exactly the options that take one" % (cmd, page),
           not wrong_man, "wrong: " + " ".join(wrong_man))
    report("%s: the completion completes a value after exactly those options" % cmd,
           not wrong_comp, "wrong: " + " ".join(wrong_comp))


def check_main():
    rc, helptext = sh([BIN, "--help"])
    block = helptext.split("Commands:\n", 1)[-1].split("\n\n", 1)[0]
    commands = {l.split()[0] for l in block.split("\n") if l.startswith("  ")}
    in_man = {roff_plain(l).split()[0] for p, l in
              zip(man_section("poolscope.8", "COMMANDS"), man_section("poolscope.8", "COMMANDS")[1:])
              if p == ".TP"}
    offered = set(complete([""]) or [])
    ok = rc == 0 and commands and commands == in_man == offered
    report("poolscope --help, poolscope(8) COMMANDS and the completion name the same commands",
           ok, "help %s, man %s, completion %s" % (sorted(commands), sorted(in_man), sorted(offered)))
    items = set(man_items(man_section("poolscope.8", "OPTIONS")))
    offered = set(complete(["-"]) or [])
    accepted = {o for o in items | offered if sh([BIN, o])[0] == 0}
    ok = items == offered == accepted and {"--help", "--version"} <= items
    report("poolscope(8) OPTIONS and the completion list the global options poolscope accepts",
           ok, "man %s, completion %s, accepted %s" % (sorted(items), sorted(offered), sorted(accepted)))


check_main()
for c in ("run", "attach", "top", "compare"):
    check_command(c)
