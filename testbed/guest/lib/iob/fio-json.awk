# SPDX-License-Identifier: GPL-2.0
#
# fio-json.awk - flatten the JSON document of fio --output-format=json
# (alone or with ",normal") into one "PATH VALUE" line per scalar, for
# the guest's shell scripts (busybox has no JSON tool):
#
#   jobs.0.jobname b
#   jobs.0.error 0
#   jobs.0.read.iops 11636.363636
#
# Array elements are numbered from 0; strings lose their quotes. Only
# the lines between a "{" and a "}" in column 0 are read, so the text of
# the normal output around the document is ignored. fio prints one key
# per line; any other line inside the document is an error (exit 2), so
# a change of fio's layout cannot pass unnoticed.

# The path of the open containers: name[d] at depth d, and for an array
# the index its next element gets in idx[d].
function path(d,	p, i) {
	p = ""
	for (i = 1; i <= d; i++)
		p = p (p == "" ? "" : ".") name[i]
	return p
}

# open(KEY, CH): a container opens at depth+1; an array element without
# a key takes the next index of the enclosing array
function open(key, ch) {
	if (key == "" && isarr[depth])
		key = idx[depth]++
	depth++
	name[depth] = key
	isarr[depth] = ch == "["
	idx[depth] = 0
}

/^\{$/ && !inside { inside = 1; depth = 0; next }
!inside { next }
/^\}$/ { inside = 0; next }
{
	line = $0
	sub(/^[ \t]+/, "", line)
	sub(/,$/, "", line)
	if (line == "}" || line == "]") {
		depth--
		next
	}
	if (line == "{" || line == "[") {
		open("", line)
		next
	}
	if (match(line, /^"[^"]*" : /)) {
		key = substr(line, 2, RLENGTH - 5)
		val = substr(line, RLENGTH + 1)
		if (val == "{" || val == "[") {
			open(key, val)
			next
		}
		if (val ~ /^".*"$/)
			val = substr(val, 2, length(val) - 2)
		p = path(depth)
		print (p == "" ? "" : p ".") key, val
		next
	}
	if (isarr[depth]) {
		# a scalar element of an array
		print path(depth) "." idx[depth]++, line
		next
	}
	printf "fio-json.awk: line %d not understood: %s\n", NR, $0 >"/dev/stderr"
	bad = 1
	exit 2
}
END {
	if (bad)
		exit 2
	if (inside) {
		print "fio-json.awk: the JSON document does not end" >"/dev/stderr"
		exit 2
	}
}
