// Command linearizability-checker checks a recorded history of guidd operations for
// linearizability, one register per GUID, with Porcupine.
//
//	linearizability-checker [-out DIR] [-timeout 60s] [-html] history.json
//
// Exit codes: 0 every GUID's history is linearizable; 1 one is not (or two writes answered
// the same ETag), its visualisation written to DIR/<GUID>.html; 2 bad input; 3 the check
// ran out of time (no verdict).
package main

import (
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

type verdict struct {
	guid          string
	ops           int
	indeterminate int
	unchecked     int // reads left out
	result        porcupine.CheckResult
	info          porcupine.LinearizationInfo
	reused        []string // ETags answered by two different writes
	keyFaults     []string // keyed writes answered differently, or run more than once
	elapsed       time.Duration
}

// toOperations turns one GUID's recorded operations into Porcupine's (and counts those with
// an unknown outcome and the reads left out), clients renumbered from 0 in order of
// appearance (the visualisation draws one row per client). An operation with no return
// time returns at "infinity", Porcupine's way of saying it may take effect at any point
// after its call, or never.
func toOperations(recorded []RecordedOp) ([]porcupine.Operation, int, int) {
	clients := map[int]int{}
	ops := make([]porcupine.Operation, 0, len(recorded))
	unknown, unchecked := 0, 0
	for _, r := range recorded {
		if r.Unchecked {
			unchecked++
			continue
		}
		if r.Return == nil && (r.Kind == KindGet || r.Kind == KindList) {
			// A read with no answer constrains nothing: left out, it cannot slow the search.
			unknown++
			continue
		}
		id, seen := clients[r.Client]
		if !seen {
			id = len(clients)
			clients[r.Client] = id
		}
		in := Input{Kind: r.Kind}
		if r.Input.User != nil {
			in.HasUser, in.User = true, *r.Input.User
		}
		if r.Input.Expire != nil {
			in.HasExpire, in.Expire = true, *r.Input.Expire
		}
		if r.Input.IfMatch != nil {
			in.HasMatch, in.IfMatch = true, *r.Input.IfMatch
		}
		out := Output{Unknown: r.Return == nil}
		if r.Output != nil {
			out.Status = r.Output.Status
			if r.Output.User != nil {
				out.User = *r.Output.User
			}
			if r.Output.Expire != nil {
				out.Expire = *r.Output.Expire
			}
			if r.Output.Etag != nil {
				out.Etag = *r.Output.Etag
			}
			if r.Kind == KindList && len(r.Output.Items) > 0 {
				item := r.Output.Items[0]
				out.Listed, out.User, out.Expire = true, item.User, item.Expire
			}
		}
		ret := int64(math.MaxInt64)
		if r.Return != nil {
			ret = *r.Return
		} else {
			unknown++
		}
		var meta interface{}
		if r.Meta != "" {
			meta = r.Meta
		}
		ops = append(ops, porcupine.Operation{ClientId: id, Input: in, Call: *r.Invoke, Output: out, Return: ret, Metadata: meta})
	}
	return ops, unknown, unchecked
}

// mergeKeyed makes the attempts of each keyed write (the same request sent again under its
// Idempotency-Key: after no answer, after a kill, to the other instance) one operation: it
// is invoked with the first attempt and returns with the first answer any attempt got, which
// is that operation's answer; with no answer at all its outcome is unknown, and it happens
// once or never. It also reports what no order can explain: attempts answered differently
// (a replay must be the first answer), or more than one answer that was not a replay (the
// request ran more than once).
func mergeKeyed(recorded []RecordedOp) ([]RecordedOp, []string) {
	attempts := map[string][]RecordedOp{}
	var keys []string
	merged := make([]RecordedOp, 0, len(recorded))
	for _, r := range recorded {
		if r.Input.Key == nil {
			merged = append(merged, r)
			continue
		}
		k := *r.Input.Key
		if _, seen := attempts[k]; !seen {
			keys = append(keys, k)
		}
		attempts[k] = append(attempts[k], r)
	}
	var faults []string
	for _, k := range keys {
		tries := attempts[k]
		op := tries[0]
		var first *RecordedOp
		ran := 0
		var metas []string
		for i := range tries {
			t := &tries[i]
			metas = append(metas, t.Meta)
			if t.Return == nil {
				continue
			}
			if !t.Output.Replayed {
				ran++
			}
			if first == nil || *t.Return < *first.Return {
				first = t
			}
		}
		if first != nil {
			for i := range tries {
				t := &tries[i]
				if t.Return != nil && !sameAnswer(*t.Output, *first.Output) {
					faults = append(faults, fmt.Sprintf("key %s: answered %s, then %s (a replay must be the first answer)", k, answerText(*first.Output), answerText(*t.Output)))
				}
			}
			op.Return, op.Output = first.Return, first.Output
		} else {
			op.Return, op.Output = nil, nil
		}
		if ran > 1 {
			faults = append(faults, fmt.Sprintf("key %s: %d answers without Idempotent-Replayed (the request ran %d times)", k, ran, ran))
		}
		op.Meta = fmt.Sprintf("key %s, %d attempts: %s", k, len(tries), strings.Join(metas, "; "))
		merged = append(merged, op)
	}
	sort.SliceStable(merged, func(i, j int) bool { return *merged[i].Invoke < *merged[j].Invoke })
	return merged, faults
}

func sameAnswer(a, b RecordedOutput) bool {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) int64 {
		if p == nil {
			return -1
		}
		return *p
	}
	return a.Status == b.Status && str(a.User) == str(b.User) && num(a.Expire) == num(b.Expire) && str(a.Etag) == str(b.Etag)
}

func answerText(o RecordedOutput) string {
	if o.Etag == nil {
		return fmt.Sprint(o.Status)
	}
	return fmt.Sprintf("%d %s", o.Status, *o.Etag)
}

// reusedEtags finds ETags answered by two different acknowledged writes: versions never
// repeat (not even across a delete), which the model alone, seeing only the current
// state, would not notice for an ETag that came back after another one.
func reusedEtags(recorded []RecordedOp) []string {
	seen := map[string]int{}
	for _, r := range recorded {
		if r.Return == nil || r.Kind == KindGet || r.Kind == KindList || r.Output == nil || r.Output.Etag == nil {
			continue
		}
		if s := r.Output.Status; s == 200 || s == 201 {
			seen[*r.Output.Etag]++
		}
	}
	var reused []string
	for etag, n := range seen {
		if n > 1 {
			reused = append(reused, fmt.Sprintf("%s (%d writes)", etag, n))
		}
	}
	sort.Strings(reused)
	return reused
}

// answered leaves out the operations whose outcome is unknown.
func answered(ops []porcupine.Operation) []porcupine.Operation {
	kept := make([]porcupine.Operation, 0, len(ops))
	for _, op := range ops {
		if op.Return != math.MaxInt64 {
			kept = append(kept, op)
		}
	}
	return kept
}

func check(guid string, recorded []RecordedOp, timeout time.Duration, visualiseAll bool) verdict {
	recorded, keyFaults := mergeKeyed(recorded)
	ops, unknown, unchecked := toOperations(recorded)
	start := time.Now()
	// An operation with an unknown outcome may not have happened, so a history that is
	// linearizable with all of them left out is linearizable as recorded. That check is
	// quick, while the full one tries the unknown operations in every order and grows
	// exponentially with their number: a GUID held for 30 s by the claim of an instance killed
	// mid-write (MongoDB-only mode on FerretDB) collects a dozen or more timed-out writes, and
	// 14 of them took 7.8 s. The full check runs only when some unknown operation must have
	// happened.
	if known := answered(ops); len(known) < len(ops) && !visualiseAll && porcupine.CheckOperationsTimeout(registerModel(), known, timeout) == porcupine.Ok {
		return verdict{guid: guid, ops: len(recorded), indeterminate: unknown, unchecked: unchecked, result: porcupine.Ok, reused: reusedEtags(recorded), keyFaults: keyFaults, elapsed: time.Since(start)}
	}
	// The plain check first: the verbose one, which keeps the longest partial linearization
	// of every operation for the visualisation, costs O(n) more per backtrack, and only a
	// failure needs it.
	result := porcupine.CheckOperationsTimeout(registerModel(), ops, timeout)
	var info porcupine.LinearizationInfo
	if result != porcupine.Ok || visualiseAll {
		result, info = porcupine.CheckOperationsVerbose(registerModel(), ops, timeout)
	}
	return verdict{guid: guid, ops: len(recorded), indeterminate: unknown, unchecked: unchecked, result: result, info: info, reused: reusedEtags(recorded), keyFaults: keyFaults, elapsed: time.Since(start)}
}

// explain prints, for a failed GUID, where the longest linearization found stops: its last
// steps and the operations of which one had to come next, none fitting the state it left.
func explain(v verdict, recorded []RecordedOp) {
	partials := v.info.PartialLinearizations()
	if len(partials) == 0 || len(partials[0]) == 0 {
		return
	}
	longest := partials[0][0]
	for _, p := range partials[0] {
		if len(p) > len(longest) {
			longest = p
		}
	}
	// Porcupine numbers operations in the order they were given (no partition function).
	recorded, _ = mergeKeyed(recorded)
	ops, _, _ := toOperations(recorded)
	model := registerModel()
	fmt.Printf("  the longest linearization found covers %d of %d operations; it ends:\n", len(longest), len(ops))
	state := model.Init()
	done := make([]bool, len(ops))
	for i, id := range longest {
		op := ops[id]
		done[id] = true
		_, state = model.Step(state, op.Input, op.Output)
		if i >= len(longest)-5 {
			fmt.Printf("    client %d: %s  => %s\n", op.ClientId, model.DescribeOperation(op.Input, op.Output), model.DescribeState(state))
		}
	}
	minReturn := int64(math.MaxInt64)
	for id, op := range ops {
		if !done[id] && op.Return < minReturn {
			minReturn = op.Return
		}
	}
	fmt.Println("  none of these fits as the next one:")
	for id, op := range ops {
		if done[id] || op.Call > minReturn {
			continue
		}
		ret := "never answered"
		if op.Return != math.MaxInt64 {
			ret = fmt.Sprintf("%d-%d ns", op.Call, op.Return)
		}
		meta := ""
		if op.Metadata != nil {
			meta = fmt.Sprintf(", %v", op.Metadata)
		}
		fmt.Printf("    client %d: %s (%s%s)\n", op.ClientId, model.DescribeOperation(op.Input, op.Output), ret, meta)
	}
}

// leftOut says how many reads were left out of the check, when some were.
func leftOut(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(", %d reads left out", n)
}

func outDir(flagValue string) (string, error) {
	dir := flagValue
	if dir == "" {
		dir = os.Getenv("GUIDD_LINEARIZABILITY_OUT")
	}
	if dir == "" {
		return os.MkdirTemp("", "guidd-linearizability-")
	}
	return dir, os.MkdirAll(dir, 0o755)
}

func main() {
	out := flag.String("out", "", "folder for the HTML visualisations (default $GUIDD_LINEARIZABILITY_OUT, else a new temp folder)")
	timeout := flag.Duration("timeout", 60*time.Second, "longest check of one GUID's history (then exit 3, no verdict)")
	always := flag.Bool("html", false, "write the visualisation of every GUID, linearizable or not")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: linearizability-checker [-out DIR] [-timeout 60s] [-html] history.json")
		os.Exit(2)
	}
	f, err := os.Open(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	history, err := ReadHistory(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bad history:", err)
		os.Exit(2)
	}

	guids, parts := history.ByGuid()
	verdicts := make([]verdict, len(guids))
	var wg sync.WaitGroup
	for i, g := range guids {
		wg.Add(1)
		go func(i int, g string) {
			defer wg.Done()
			verdicts[i] = check(g, parts[g], *timeout, *always)
		}(i, g)
	}
	wg.Wait()

	failed, unknown, total, indeterminate, unchecked := 0, 0, 0, 0, 0
	var dir string
	for _, v := range verdicts {
		total += v.ops
		indeterminate += v.indeterminate
		unchecked += v.unchecked
		bad := v.result == porcupine.Illegal || len(v.reused) > 0 || len(v.keyFaults) > 0
		status := "linearizable"
		switch {
		case v.result == porcupine.Illegal:
			status = "NOT LINEARIZABLE"
		case len(v.keyFaults) > 0:
			status = "IDEMPOTENCY-KEY BROKEN: " + strings.Join(v.keyFaults, "; ")
		case v.result == porcupine.Unknown:
			status = "UNKNOWN (check timed out)"
		case len(v.reused) > 0:
			status = "ETAG REUSED: " + strings.Join(v.reused, ", ")
		}
		fmt.Printf("%s: %d operations (%d indeterminate%s), checked in %s: %s\n", v.guid, v.ops, v.indeterminate, leftOut(v.unchecked), v.elapsed.Round(time.Millisecond), status)
		if bad {
			failed++
		} else if v.result == porcupine.Unknown {
			unknown++
		}
		if v.result == porcupine.Illegal {
			explain(v, parts[v.guid])
		}
		if bad || *always {
			if dir == "" {
				if dir, err = outDir(*out); err != nil {
					fmt.Fprintln(os.Stderr, "cannot make the output folder:", err)
					os.Exit(2)
				}
			}
			path := filepath.Join(dir, v.guid+".html")
			if err := porcupine.VisualizePath(registerModel(), v.info, path); err != nil {
				fmt.Fprintln(os.Stderr, "cannot write the visualisation:", err)
			} else {
				fmt.Printf("  visualisation: %s\n", path)
			}
		}
	}
	listingFaults := history.ListingFaults()
	for _, f := range listingFaults {
		fmt.Printf("LISTING WRONG: %s\n", f)
	}
	failed += len(listingFaults)
	pages, keyed := history.Counts()
	fmt.Printf("checked %d histories (one per GUID, one more per GUID listings cover), %d operations (%d indeterminate%s; %d listing pages, projected onto the GUIDs they cover; %d keyed attempts, one operation per key): %d not linearizable, %d without verdict\n", len(verdicts), total, indeterminate, leftOut(unchecked), pages, keyed, failed, unknown)
	if dir != "" {
		fmt.Printf("visualisations in %s\n", dir)
	}
	switch {
	case failed > 0:
		os.Exit(1)
	case unknown > 0:
		os.Exit(3)
	}
}
