package main

// The sequential specification of one GUID: a register that is absent or holds
// {user, expire, etag}. Every write that changes it makes a fresh ETag, which the model
// takes from the write's answer (the ETag is opaque: only compared for equality); a read
// must then answer exactly the state the last linearized write left.
//
// Nondeterminism, expressed as a set of possible states (Porcupine's NondeterministicModel):
//   - an operation whose outcome is unknown (no return time) either happened or did not;
//     when it happened its ETag is unknown, written "?", and the first read or If-Match that
//     succeeds against that state pins it;
//   - an If-Match against an unknown ETag may or may not match;
//   - PATCH and DELETE with If-Match on an absent GUID may answer 404 or 412 (both say "not
//     applied"; the service answers 404 today, RFC 9110 allows either precedence).
//
// A listing page, projected onto one GUID (history.go, ByGuid), is a read of it: listed with
// {user, expire} (the state must be present, of the listed user, with that expire; a page
// carries no ETag, so it pins none), or not listed (absent, or another user's). A write sent
// with an Idempotency-Key, however many times, is one operation here (main.go, mergeKeyed):
// it takes effect once, and every answer to it is that one effect's.

import (
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/anishathalye/porcupine"
)

type State struct {
	Present bool
	User    string
	Expire  int64
	Etag    string // "" while unknown (an indeterminate write happened)
}

type Input struct {
	Kind      Kind
	HasUser   bool
	User      string
	HasExpire bool
	Expire    int64
	HasMatch  bool
	IfMatch   string
}

type Output struct {
	Unknown bool // no return time: may or may not have happened
	Status  int
	User    string
	Expire  int64
	Etag    string
	Listed  bool // a listing showed the GUID, with User and Expire
}

var absent = State{}

// outcome is one way the service may answer `in` from a state.
type outcome struct {
	status int
	next   State // for a write that applies: the record, its Etag still to be filled
	writes bool  // the answer carries a fresh ETag and moves the state to next
}

type matchResult int

const (
	noMatch matchResult = iota
	match
	maybeMatch
)

func matches(s State, ifMatch string) matchResult {
	switch {
	case !s.Present:
		return noMatch
	case s.Etag == "":
		return maybeMatch
	case s.Etag == ifMatch:
		return match
	default:
		return noMatch
	}
}

func record(user string, expire int64) State {
	return State{Present: true, User: user, Expire: expire}
}

func merged(s State, in Input) State {
	next := record(s.User, s.Expire)
	if in.HasUser {
		next.User = in.User
	}
	if in.HasExpire {
		next.Expire = in.Expire
	}
	return next
}

// guarded applies If-Match (when given) to an update of a present record.
func guarded(s State, in Input, apply outcome) []outcome {
	if !in.HasMatch {
		return []outcome{apply}
	}
	refused := outcome{status: 412, next: s}
	switch matches(s, in.IfMatch) {
	case match:
		return []outcome{apply}
	case maybeMatch:
		return []outcome{apply, refused}
	default:
		return []outcome{refused}
	}
}

// outcomes lists every answer the service may give to `in` in state `s`.
func outcomes(s State, in Input) []outcome {
	unchanged := func(status int) outcome { return outcome{status: status, next: s} }
	switch in.Kind {
	case KindGet:
		if !s.Present {
			return []outcome{unchanged(404)}
		}
		return []outcome{unchanged(200)}
	case KindList:
		return []outcome{unchanged(200)}
	case KindCreate:
		if s.Present {
			return []outcome{unchanged(409)}
		}
		return []outcome{{status: 201, next: record(in.User, in.Expire), writes: true}}
	case KindCreateOnly:
		if s.Present {
			return []outcome{unchanged(412)}
		}
		return []outcome{{status: 201, next: record(in.User, in.Expire), writes: true}}
	case KindUpsert:
		if !s.Present {
			if in.HasMatch {
				return []outcome{unchanged(412)}
			}
			return []outcome{{status: 201, next: record(in.User, in.Expire), writes: true}}
		}
		return guarded(s, in, outcome{status: 200, next: merged(s, in), writes: true})
	case KindPatch:
		if !s.Present {
			if in.HasMatch {
				return []outcome{unchanged(404), unchanged(412)}
			}
			return []outcome{unchanged(404)}
		}
		return guarded(s, in, outcome{status: 200, next: merged(s, in), writes: true})
	case KindDelete:
		if !s.Present {
			if in.HasMatch {
				return []outcome{unchanged(404), unchanged(412)}
			}
			return []outcome{unchanged(404)}
		}
		return guarded(s, in, outcome{status: 204, next: absent})
	}
	return nil
}

// step returns every state `s` may move to when `in` is answered `out` (none: impossible).
func step(s State, in Input, out Output) []State {
	possible := outcomes(s, in)
	if out.Unknown {
		// Either it did not happen (or not yet: Porcupine may also place it last), or it
		// happened with one of its outcomes; a write's ETag is then unknown.
		next := []State{s}
		for _, o := range possible {
			if o.writes {
				next = append(next, o.next) // Etag ""
			} else if o.next != s {
				next = append(next, o.next)
			}
		}
		return next
	}
	var next []State
	for _, o := range possible {
		if o.status != out.Status {
			continue
		}
		switch {
		case o.writes:
			// The answer is the record written, with an ETag no state it replaces had.
			if out.User != o.next.User || out.Expire != o.next.Expire || out.Etag == "" || (s.Present && s.Etag == out.Etag) {
				continue
			}
			n := o.next
			n.Etag = out.Etag
			next = append(next, n)
		case in.Kind == KindList:
			mine := s.Present && s.User == in.User
			if out.Listed != mine || (out.Listed && (out.User != s.User || out.Expire != s.Expire)) {
				continue
			}
			next = append(next, s)
		case in.Kind == KindGet && out.Status == 200:
			if out.User != s.User || out.Expire != s.Expire || (s.Etag != "" && s.Etag != out.Etag) {
				continue
			}
			n := s
			n.Etag = out.Etag // pins an unknown ETag: this read saw it
			next = append(next, n)
		default:
			next = append(next, o.next)
		}
	}
	return next
}

func hashState(s State) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%t|%s|%d|%s", s.Present, s.User, s.Expire, s.Etag)
	return h.Sum64()
}

func describeState(s State) string {
	if !s.Present {
		return "absent"
	}
	etag := s.Etag
	if etag == "" {
		etag = "?"
	}
	return fmt.Sprintf("{user %q, expire %d, etag %s}", s.User, s.Expire, etag)
}

func describeOperation(in Input, out Output) string {
	var args []string
	if in.HasUser {
		args = append(args, fmt.Sprintf("user=%q", in.User))
	}
	if in.HasExpire {
		args = append(args, fmt.Sprintf("expire=%d", in.Expire))
	}
	if in.HasMatch {
		args = append(args, "If-Match "+in.IfMatch)
	}
	call := fmt.Sprintf("%s(%s)", in.Kind, strings.Join(args, ", "))
	switch {
	case in.Kind == KindList && out.Listed:
		return fmt.Sprintf("%s -> listed {user %q, expire %d}", call, out.User, out.Expire)
	case in.Kind == KindList && !out.Unknown:
		return call + " -> not listed"
	case out.Unknown && out.Status != 0:
		return fmt.Sprintf("%s -> ? (%d)", call, out.Status)
	case out.Unknown:
		return call + " -> ? (no answer)"
	case out.Status == 200 || out.Status == 201:
		return fmt.Sprintf("%s -> %d {user %q, expire %d} %s", call, out.Status, out.User, out.Expire, out.Etag)
	default:
		return fmt.Sprintf("%s -> %d", call, out.Status)
	}
}

// registerModel is the per-GUID model; partitions are made by the caller, one per GUID.
func registerModel() porcupine.Model {
	nd := porcupine.NondeterministicModel{
		Init: func() []interface{} { return []interface{}{absent} },
		Step: func(state, input, output interface{}) []interface{} {
			next := step(state.(State), input.(Input), output.(Output))
			states := make([]interface{}, len(next))
			for i, s := range next {
				states[i] = s
			}
			return states
		},
		Equal:             func(a, b interface{}) bool { return a.(State) == b.(State) },
		Hash:              func(s interface{}) uint64 { return hashState(s.(State)) },
		DescribeOperation: func(in, out interface{}) string { return describeOperation(in.(Input), out.(Output)) },
		DescribeState:     func(s interface{}) string { return describeState(s.(State)) },
		DescribeOperationMetadata: func(meta interface{}) string {
			if meta == nil {
				return ""
			}
			return fmt.Sprint(meta)
		},
	}
	return nd.ToModel()
}
