# bash completion for poolscope(8): commands, each command's options, the
# bundled workloads after run and compare (asked of the poolscope being
# completed, so they match its catalogue), PIDs after -p/--pid, thread IDs
# after --tid, process names after --comm, directories after --cgroup, files
# after --json/--folded/--svg.
# Needs nothing from the bash-completion package; uses its _command_offset
# for the command after `--` when it is loaded.
#
# The option lists are the one place completion knows them from: the drift
# test (tests/integration/docs_check.py) checks them against the options the
# binary accepts, its --help and the man pages.

_poolscope_commands="run attach top compare list help version"
_poolscope_opts_common="--json -q --quiet -w --wide --no-locks --locks --futex-source
	--stacks --python-frames --no-python-frames -F --freq --folded --svg --pprof --push --push-app --push-label --push-format
	--push-org-id --push-timeout --timeline --timeline-buffer --perfetto --timeline-html
	--slice-ms --max-threads --raw-tp -v --verbose"
_poolscope_opts_run="-a --all --cgroup --as-root --list -h --help $_poolscope_opts_common"
_poolscope_opts_attach="-p --pid --tid --comm --cgroup -a --all --children -d --duration
	-i --interval -h --help $_poolscope_opts_common"
_poolscope_opts_top="-p --pid --tid --comm --cgroup -a --all --children -d --duration
	-i --interval -h --help --no-locks --locks --futex-source --max-threads --raw-tp
	-v --verbose"
_poolscope_opts_compare="--json -q --quiet --show-output -h --help --stacks --locks
	--no-locks --python-frames --no-python-frames --futex-source -F --freq --slice-ms --max-threads --raw-tp -v --verbose"
# the options above that take a value (the next word)
_poolscope_opts_valued="--json --futex-source --stacks -F --freq --folded --svg --pprof --push
	--push-app --push-label --push-format --push-org-id --push-timeout --timeline-buffer
	--perfetto --timeline-html --slice-ms
	--max-threads -p --pid --tid --comm --cgroup -d --duration -i --interval"

_poolscope_is_valued()
{
	[[ " ${_poolscope_opts_valued//[$'\t\n']/ } " == *" $1 "* ]]
}

# COMPREPLY from the words of $1 that start with $2
_poolscope_words()
{
	local IFS=$' \t\n'
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# The workloads the poolscope being completed knows: its --help names them.
_poolscope_workloads()
{
	local bin=${COMP_WORDS[0]}
	[[ $bin == "~/"* ]] && bin=$HOME/${bin#"~/"}
	# "Bundled workloads: a, b" or the list on the next line
	"$bin" run --help 2>/dev/null |
		sed -n -e '/^Bundled workloads:$/{n;s/^ *//p;q}' -e 's/^Bundled workloads: //p' | tr -d ,
}

# A comma-separated list: complete its last item from the words of $1.
_poolscope_list_item()
{
	local cur=$2 head=
	[[ $cur == *,* ]] && head=${cur%,*},
	local IFS=$' \t\n'
	COMPREPLY=($(compgen -P "$head" -W "$1" -- "${cur##*,}"))
}

_poolscope_pids()
{
	local d
	for d in /proc/[0-9]*; do
		printf '%s\n' "${d#/proc/}"
	done
}

_poolscope_tids()
{
	local d
	for d in /proc/[0-9]*/task/[0-9]*; do
		printf '%s\n' "${d##*/}"
	done
}

_poolscope_comms()
{
	local cur=$1 comm
	local -A seen=()
	COMPREPLY=()
	for comm in /proc/[0-9]*/comm; do
		read -r comm <"$comm" 2>/dev/null || continue
		[[ $comm == "$cur"* && -z ${seen[$comm]:-} ]] || continue
		seen[$comm]=1
		COMPREPLY+=("$(printf '%q' "$comm")")
	done
}

# The value of option $1, being typed as $2.
_poolscope_value()
{
	local opt=$1 cur=$2
	case $opt in
	--json | --folded | --svg | --pprof | --perfetto | --timeline-html)
		compopt -o filenames 2>/dev/null
		local IFS=$'\n'
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	--cgroup)
		# cgroup directories; a hierarchy path or CONTROLLER:PATH is typed
		compopt -o filenames 2>/dev/null
		local IFS=$'\n'
		COMPREPLY=($(compgen -d -- "${cur:-/sys/fs/cgroup/}"))
		;;
	--stacks) _poolscope_list_item "offcpu oncpu all none" "$cur" ;;
	--futex-source) _poolscope_words "sched syscalls" "$cur" ;;
	--push-format) _poolscope_words "pprof folded" "$cur" ;;
	-p | --pid) _poolscope_list_item "$(_poolscope_pids)" "$cur" ;;
	--tid) _poolscope_list_item "$(_poolscope_tids)" "$cur" ;;
	--comm) _poolscope_comms "$cur" ;;
	*) COMPREPLY=() ;;
	esac
}

# The command after `--` at word $1: its own completion if bash-completion
# is loaded, else command names and then files.
_poolscope_command()
{
	local start=$1 cur=$2
	if type _command_offset &>/dev/null; then
		_command_offset "$start"
		return
	fi
	local IFS=$'\n'
	if ((COMP_CWORD == start)); then
		COMPREPLY=($(compgen -c -- "$cur" | sort -u))
	else
		compopt -o filenames 2>/dev/null
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}

_poolscope()
{
	local cword=$COMP_CWORD cur=${COMP_WORDS[COMP_CWORD]} prev=
	local cmd= ci=0 i w opts valued= positional= dashdash=0

	COMPREPLY=()
	((cword > 0)) && prev=${COMP_WORDS[cword - 1]}
	# --opt=value: bash splits the word at '='
	if [[ $cur == = ]]; then
		valued=$prev cur=
	elif [[ $prev == = ]] && ((cword > 1)); then
		valued=${COMP_WORDS[cword - 2]}
	fi

	for ((i = 1; i < cword; i++)); do
		[[ ${COMP_WORDS[i]} == -* ]] && continue
		cmd=${COMP_WORDS[i]} ci=$i
		break
	done
	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			_poolscope_words "-h --help --version" "$cur"
		else
			_poolscope_words "$_poolscope_commands" "$cur"
		fi
		return 0
	fi
	case $cmd in
	run) opts=$_poolscope_opts_run ;;
	attach) opts=$_poolscope_opts_attach ;;
	top) opts=$_poolscope_opts_top ;;
	compare) opts=$_poolscope_opts_compare ;;
	help)
		((cword == ci + 1)) && _poolscope_words "run attach top compare" "$cur"
		return 0
		;;
	*) return 0 ;;
	esac

	# Where the word being completed stands: the value of an option, after
	# `--` (a command), or after a workload (run: the workload's own
	# arguments; compare: more entries, no more options).
	for ((i = ci + 1; i < cword; i++)); do
		w=${COMP_WORDS[i]}
		[[ $cmd == run && -n $positional ]] && break
		if [[ $w == -- ]]; then
			dashdash=$i
		elif ((dashdash)); then
			continue
		elif [[ -n $positional ]]; then
			continue
		elif [[ $w == -* ]]; then
			if [[ ${COMP_WORDS[i + 1]} == = ]]; then
				i=$((i + 2))
			elif _poolscope_is_valued "$w"; then
				i=$((i + 1))
			fi
		else
			positional=$w
		fi
	done
	if ((dashdash)); then
		_poolscope_command $((dashdash + 1)) "$cur"
		return 0
	fi
	if [[ -z $valued && -z $positional ]] && _poolscope_is_valued "$prev"; then
		valued=$prev
	fi
	if [[ -n $valued ]]; then
		_poolscope_value "$valued" "$cur"
		return 0
	fi
	# run: the words after the workload are its own arguments
	if [[ $cmd == run && -n $positional ]]; then
		compopt -o default 2>/dev/null
		return 0
	fi
	if [[ $cur == -* ]]; then
		# compare: after an entry, only `--` (a command entry) may follow
		[[ -n $positional ]] && opts=--
		_poolscope_words "$opts" "$cur"
	elif [[ $cmd == attach || $cmd == top ]]; then
		_poolscope_words "$opts" "$cur"
	else
		_poolscope_words "$(_poolscope_workloads)" "$cur"
	fi
	return 0
}

complete -F _poolscope poolscope
