#!/usr/bin/env bash
# fuzz.sh TIME PATTERN runs every fuzz target whose name matches PATTERN
# (a func PATTERN( in a tracked *_test.go) for TIME each, as `make fuzz`
# does, against the servers with-services started. A failing input is
# written to the package's testdata/fuzz/<target>/ and fails the run; a
# target that fails without one is Go's own -fuzztime deadline race
# (go.dev/issue/75804, fixed in Go 1.27, not in the 1.26 we pin): it is
# reported, not counted.
set -uo pipefail
time=$1 pattern=$2
passed=0 failed=0 raced=0
for file in $(grep -l "^func $pattern(" $(git ls-files '*_test.go')); do
  dir=$(dirname "$file")
  for target in $(grep -o "^func $pattern(" "$file" | sed 's/^func //; s/($//'); do
    corpus="$dir/testdata/fuzz/$target"
    before=$(ls "$corpus" 2>/dev/null | wc -l)
    echo "== $dir $target"
    if go test -count=1 -run '^$' -fuzz "^$target\$" -fuzztime "$time" "./$dir"; then
      passed=$((passed + 1))
    elif [ "$(ls "$corpus" 2>/dev/null | wc -l)" -gt "$before" ]; then
      failed=$((failed + 1))
      echo "!! $target: a failing input is in $corpus: fix it, and commit the input"
    else
      raced=$((raced + 1))
      echo "~~ $target: ended with no failing input (Go's -fuzztime race, go.dev/issue/75804): not counted"
    fi
  done
done
echo "fuzz: $passed passed, $failed with a failing input, $raced ended by Go's deadline race"
[ "$failed" -eq 0 ]
