package main

// The history file: what a test recorded, one entry per HTTP request it sent.
//
//	{"operations": [
//	  {"client": 3, "guid": "9094E4C980C74043A4B586B420E69DDF", "kind": "patch",
//	   "input": {"user": "c3-17", "ifMatch": "\"1764633600000002\""},
//	   "invoke": 1200345, "return": 1900012,
//	   "output": {"status": 200, "user": "c3-17", "expire": 1893456000, "etag": "\"1764633600000003\""},
//	   "meta": "instance B"}]}
//
// Times are nanoseconds on one monotonic clock. An operation whose outcome is unknown (a
// timeout, a 5xx, a connection error) has no "return": it may or may not have happened,
// at any time after its invoke. A read marked "unchecked": true is kept for the record and
// left out of the check (a read sent to any instance may trail another instance's write by
// the invalidation delay, which the service allows); only reads may be, since a read
// changes nothing the other operations' answers depend on.
//
// A listing page (kind "list", no guid) names the user, the limit and the GUID its cursor
// starts after, and answers the items it saw and whether a next page exists:
//
//	{"client": 4, "guid": "", "kind": "list", "input": {"user": "L0", "limit": 10, "after": "0A..."},
//	 "invoke": ..., "return": ..., "output": {"status": 200, "items": [{"guid": "...", "user": "L0", "expire": 1893456000}], "more": false}}
//
// A write sent with an Idempotency-Key carries it as input "key"; every request sent with
// that key is one attempt of one operation (the same request sent again), and an answer
// replayed from the kept one says so with output "replayed": true.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

type Kind string

const (
	KindCreate     Kind = "create"      // POST /guid {guid, user, expire}: 201 or 409
	KindUpsert     Kind = "upsert"      // POST /guid/{g} {user, expire}: 201, 200; 412 with If-Match
	KindCreateOnly Kind = "create-only" // POST /guid/{g} with If-None-Match: *: 201 or 412
	KindGet        Kind = "get"         // GET /guid/{g}: 200 or 404
	KindPatch      Kind = "patch"       // PATCH /guid/{g} {user?, expire?}: 200, 404; 412 with If-Match
	KindDelete     Kind = "delete"      // DELETE /guid/{g}: 204, 404; 412 with If-Match
	KindList       Kind = "list"        // GET /guid?user=&limit=&cursor=: 200, one page
)

// ListItem is one record a listing page showed (its version is not in a page).
type ListItem struct {
	Guid   string `json:"guid"`
	User   string `json:"user"`
	Expire int64  `json:"expire"`
}

type RecordedInput struct {
	User    *string `json:"user,omitempty"`
	Expire  *int64  `json:"expire,omitempty"`
	IfMatch *string `json:"ifMatch,omitempty"`
	// Key: the Idempotency-Key the write was sent with.
	Key *string `json:"key,omitempty"`
	// After: the GUID the listing's cursor starts after (none: the first page).
	After *string `json:"after,omitempty"`
	Limit *int    `json:"limit,omitempty"`
}

type RecordedOutput struct {
	Status int     `json:"status"`
	User   *string `json:"user,omitempty"`
	Expire *int64  `json:"expire,omitempty"`
	Etag   *string `json:"etag,omitempty"`
	// Replayed: the answer carried Idempotent-Replayed: true.
	Replayed bool       `json:"replayed,omitempty"`
	Items    []ListItem `json:"items,omitempty"`
	// More: the page named a next one (its items then cover the GUIDs up to its last one only).
	More bool `json:"more,omitempty"`
}

type RecordedOp struct {
	Client int             `json:"client"`
	Guid   string          `json:"guid"`
	Kind   Kind            `json:"kind"`
	Input  RecordedInput   `json:"input"`
	Invoke *int64          `json:"invoke"`
	Return *int64          `json:"return,omitempty"`
	Output *RecordedOutput `json:"output,omitempty"`
	Meta   string          `json:"meta,omitempty"`
	// Unchecked: a read whose answer is not judged (see the top of this file).
	Unchecked bool `json:"unchecked,omitempty"`
}

type History struct {
	Operations []RecordedOp `json:"operations"`
}

// statuses a completed operation of each kind may have; anything else is a broken history
// (a test bug, or a status the test should have recorded as indeterminate).
var allowed = map[Kind][]int{
	KindCreate:     {201, 409},
	KindUpsert:     {200, 201, 412},
	KindCreateOnly: {201, 412},
	KindGet:        {200, 404},
	KindPatch:      {200, 404, 412},
	KindDelete:     {204, 404, 412},
	KindList:       {200},
}

// ReadHistory decodes and validates a history; an error means bad input (exit 2).
func ReadHistory(r io.Reader) (*History, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var h History
	if err := dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("not a history: %w", err)
	}
	if h.Operations == nil {
		return nil, fmt.Errorf("not a history: no \"operations\" array")
	}
	for i := range h.Operations {
		if err := validate(&h.Operations[i]); err != nil {
			return nil, fmt.Errorf("operation %d: %w", i, err)
		}
	}
	// Attempts under one key are the same request sent again: anything else is a test bug
	// (the service would answer 422, which the workload never provokes).
	first := map[string]RecordedOp{}
	for i, op := range h.Operations {
		if op.Input.Key == nil {
			continue
		}
		f, seen := first[*op.Input.Key]
		if !seen {
			first[*op.Input.Key] = op
			continue
		}
		a, _ := json.Marshal(f.Input)
		b, _ := json.Marshal(op.Input)
		if f.Guid != op.Guid || f.Kind != op.Kind || !bytes.Equal(a, b) {
			return nil, fmt.Errorf("operation %d: key %q was sent with another request before", i, *op.Input.Key)
		}
	}
	return &h, nil
}

func validate(op *RecordedOp) error {
	statuses, known := allowed[op.Kind]
	if !known {
		return fmt.Errorf("unknown kind %q", op.Kind)
	}
	if op.Kind == KindList {
		if op.Guid != "" {
			return fmt.Errorf("a listing names a user, not a guid")
		}
		if op.Input.User == nil || op.Input.Limit == nil || *op.Input.Limit < 1 {
			return fmt.Errorf("list needs input user and limit")
		}
	} else if op.Guid == "" {
		return fmt.Errorf("no guid")
	}
	if op.Client < 0 {
		return fmt.Errorf("negative client id")
	}
	if op.Invoke == nil || *op.Invoke < 0 {
		return fmt.Errorf("no invoke time")
	}
	in := op.Input
	switch op.Kind {
	case KindCreate, KindCreateOnly, KindUpsert:
		// The model must know the record a create makes, so both fields are always sent.
		if in.User == nil || in.Expire == nil {
			return fmt.Errorf("%s needs input user and expire", op.Kind)
		}
	case KindPatch:
		if in.User == nil && in.Expire == nil {
			return fmt.Errorf("patch needs input user or expire")
		}
	}
	if (in.After != nil || in.Limit != nil) && op.Kind != KindList {
		return fmt.Errorf("%s takes no after or limit", op.Kind)
	}
	if in.Key != nil && (op.Kind == KindGet || op.Kind == KindList) {
		return fmt.Errorf("%s takes no idempotency key", op.Kind)
	}
	if op.Unchecked && op.Kind != KindGet && op.Kind != KindList {
		return fmt.Errorf("%s cannot be unchecked: leaving out a write would misjudge the others", op.Kind)
	}
	if in.IfMatch != nil && op.Kind != KindUpsert && op.Kind != KindPatch && op.Kind != KindDelete {
		return fmt.Errorf("%s takes no ifMatch", op.Kind)
	}
	if op.Return == nil {
		return nil // indeterminate: whatever output was recorded is only shown
	}
	if *op.Return < *op.Invoke {
		return fmt.Errorf("returned (%d) before it was invoked (%d)", *op.Return, *op.Invoke)
	}
	out := op.Output
	if out == nil {
		return fmt.Errorf("completed without an output")
	}
	ok := false
	for _, s := range statuses {
		ok = ok || s == out.Status
	}
	if out.Status == 412 && in.IfMatch == nil && op.Kind != KindCreateOnly {
		ok = false
	}
	if !ok {
		return fmt.Errorf("%s answered %d, which it cannot (record 5xx, timeouts and connection errors without a return time)", op.Kind, out.Status)
	}
	if op.Kind == KindList {
		for i, item := range out.Items {
			if item.Guid == "" {
				return fmt.Errorf("list item %d has no guid", i)
			}
		}
		return nil
	}
	if out.Status == 200 || out.Status == 201 {
		if out.User == nil || out.Expire == nil || out.Etag == nil || *out.Etag == "" {
			return fmt.Errorf("%s answered %d without user, expire and etag", op.Kind, out.Status)
		}
	}
	return nil
}

// ByGuid partitions the history, each partition in invoke order, GUIDs sorted. A listing
// page spans GUIDs: it is projected onto each GUID it covers (those after its cursor, and,
// when it named a next page, up to its last item) as a read of that GUID alone, which either
// saw it (listed, with the user and expire shown) or saw it not of that user, or absent, and
// checked with that GUID's writes in a history of its own (ListingsOf). That judges what the
// service promises of a listing: every item is a state its GUID had while the listing ran,
// and every write acknowledged before the listing was sent is reflected. It does not ask
// that all the GUIDs of one page were read at one instant (a snapshot), which is not
// promised (test/README.md, "Listings and Idempotency-Key in the histories").
func (h *History) ByGuid() ([]string, map[string][]RecordedOp) {
	parts := map[string][]RecordedOp{}
	var lists []RecordedOp
	for _, op := range h.Operations {
		if op.Kind == KindList {
			lists = append(lists, op)
			continue
		}
		parts[op.Guid] = append(parts[op.Guid], op)
	}
	guids := make([]string, 0, len(parts))
	for g := range parts {
		guids = append(guids, g)
	}
	sort.Strings(guids)
	var names []string
	for _, g := range guids {
		names = append(names, g)
		var projected []RecordedOp
		for _, l := range lists {
			if covered, item := l.covers(g); covered {
				p := l
				p.Guid = g
				if l.Output != nil {
					out := *l.Output
					out.Items = nil
					if item != nil {
						out.Items = []ListItem{*item}
					}
					p.Output = &out
				}
				projected = append(projected, p)
			}
		}
		if len(projected) == 0 {
			continue
		}
		// The listings go with the GUID's writes and refusals, not its reads: see ListingsOf.
		name := ListingsOf(g)
		names = append(names, name)
		for _, op := range parts[g] {
			if op.Kind != KindGet {
				parts[name] = append(parts[name], op)
			}
		}
		parts[name] = append(parts[name], projected...)
	}
	for _, ops := range parts {
		sort.SliceStable(ops, func(i, j int) bool { return *ops[i].Invoke < *ops[j].Invoke })
	}
	return names, parts
}

// ListingsOf names the second history of a GUID that listings cover: its writes and refusals
// with the listing pages projected onto it, its reads (GET) left out. A listing reads the
// store, a GET its instance's copy first, and the service orders them only through writes:
// a listing reflects every write acknowledged before it was sent, and a GET never trails a
// write its instance acknowledged. A write still in flight may be in the store (a listing
// shows it) before the copy a GET answers from has it (MongoDB-only mode, seen: a client
// listed a GUID's new state, then read the one before it while that write was unanswered),
// so one history with both would judge an order the service does not promise.
func ListingsOf(guid string) string { return guid + "-listings" }

// covers says whether a listing page speaks of `guid` (after its cursor, and not past its
// last item when a next page follows), and the item it showed for it, if any. A listing
// with no answer speaks of every GUID it could have shown, and is left out as a read is.
func (l RecordedOp) covers(guid string) (bool, *ListItem) {
	if l.Input.After != nil && guid <= *l.Input.After {
		return false, nil
	}
	if l.Output == nil || l.Return == nil {
		return true, nil
	}
	items := l.Output.Items
	if l.Output.More && (len(items) == 0 || guid > items[len(items)-1].Guid) {
		return false, nil
	}
	for i := range items {
		if items[i].Guid == guid {
			return true, &items[i]
		}
	}
	return true, nil
}

// ListingFaults finds what no order of operations can explain in a listing page on its own:
// an item of another user than the one listed, a GUID no operation of the history wrote (the
// run's data is its own), items not in ascending GUID order or one twice, an item at or
// before the cursor, more items than the limit, or a next page named by a page with no items.
func (h *History) ListingFaults() []string {
	written := map[string]bool{}
	for _, op := range h.Operations {
		if op.Kind != KindList {
			written[op.Guid] = true
		}
	}
	var faults []string
	for _, l := range h.Operations {
		if l.Kind != KindList || l.Return == nil || l.Output == nil {
			continue
		}
		at := fmt.Sprintf("listing of %q by client %d at %d ns", *l.Input.User, l.Client, *l.Invoke)
		items := l.Output.Items
		if len(items) > *l.Input.Limit {
			faults = append(faults, fmt.Sprintf("%s: %d items for limit %d", at, len(items), *l.Input.Limit))
		}
		if l.Output.More && len(items) == 0 {
			faults = append(faults, fmt.Sprintf("%s: a next page after an empty one", at))
		}
		previous := ""
		if l.Input.After != nil {
			previous = *l.Input.After
		}
		for _, item := range items {
			switch {
			case item.User != *l.Input.User:
				faults = append(faults, fmt.Sprintf("%s: %s listed with user %q", at, item.Guid, item.User))
			case !written[item.Guid]:
				faults = append(faults, fmt.Sprintf("%s: %s listed, which no operation wrote", at, item.Guid))
			}
			if item.Guid <= previous {
				faults = append(faults, fmt.Sprintf("%s: %s listed after %s (not ascending past the cursor, or twice)", at, item.Guid, previous))
			}
			previous = item.Guid
		}
	}
	return faults
}

// Counts says how many listing pages and keyed attempts the history holds.
func (h *History) Counts() (pages, keyed int) {
	for _, op := range h.Operations {
		if op.Kind == KindList {
			pages++
		}
		if op.Input.Key != nil {
			keyed++
		}
	}
	return pages, keyed
}
