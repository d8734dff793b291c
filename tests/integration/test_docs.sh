#!/usr/bin/env bash
# tests/integration/test_docs.sh: the man pages are clean for both man page
# processors (mandoc, groff), have a man page's sections, carry the version
# of the code, and list exactly the options and commands the binary accepts
# (docs_check.py probes it), as does the bash completion. Needs no root.
. "$(dirname "$0")/../lib.sh"

[ -x "$POOLSCOPE" ] || { fail "poolscope built" "$POOLSCOPE missing: run make"; exit 1; }
for tool in mandoc groff; do
	command -v $tool >/dev/null || { fail "$tool installed" "make deps installs it"; exit 1; }
done
version=$(sed -n 's/^#define POOLSCOPE_VERSION "\(.*\)"$/\1/p' "$TOP/user/cmd/commands.h")

for name in poolscope poolscope-run poolscope-attach poolscope-top poolscope-compare; do
	page=$TOP/man/$name.8
	if [ ! -f "$page" ]; then
		fail "man page $name(8) exists" "$page missing"
		continue
	fi
	out=$(mandoc -T lint -W all "$page" 2>&1)
	check "$name(8): mandoc -T lint reports nothing" "$out" [ $? -eq 0 -a -z "$out" ]
	out=$(groff -ww -z -man "$page" 2>&1)
	check "$name(8): groff -ww -z -man warns of nothing" "$out" [ $? -eq 0 -a -z "$out" ]
	# at a terminal's width too (line breaking is checked there)
	out=$(groff -ww -z -man -Tutf8 "$page" 2>&1)
	check "$name(8): groff -ww -z -man -Tutf8 warns of nothing" "$out" [ $? -eq 0 -a -z "$out" ]
	missing=
	for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" ENVIRONMENT FILES EXAMPLES "SEE ALSO"; do
		grep -qxE "\.SH \"?$s\"?" "$page" || missing="$missing, $s"
	done
	check "$name(8): has the sections of a man page" "missing${missing#,}" [ -z "$missing" ]
	th=$(sed -n 's/^\.TH [^ ]* 8 [^ ]* "poolscope \([^"]*\)".*/\1/p' "$page")
	check "$name(8): .TH carries version $version (user/cmd/commands.h)" ".TH says '$th'" \
		[ "$th" = "$version" ]
	dangling=
	for ref in $(sed -n '/^\.SH "SEE ALSO"/,$p' "$page" | grep -o 'poolscope[a-z\\-]*' | sed 's/\\//g'); do
		[ -f "$TOP/man/$ref.8" ] || dangling="$dangling $ref"
	done
	check "$name(8): SEE ALSO names only poolscope pages that exist" "dangling:$dangling" [ -z "$dangling" ]
done

python3 "$TOP/tests/integration/docs_check.py" "$POOLSCOPE" "$TOP"
