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
)

type RecordedInput struct {
	User    *string `json:"user,omitempty"`
	Expire  *int64  `json:"expire,omitempty"`
	IfMatch *string `json:"ifMatch,omitempty"`
}

type RecordedOutput struct {
	Status int     `json:"status"`
	User   *string `json:"user,omitempty"`
	Expire *int64  `json:"expire,omitempty"`
	Etag   *string `json:"etag,omitempty"`
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
	return &h, nil
}

func validate(op *RecordedOp) error {
	statuses, known := allowed[op.Kind]
	if !known {
		return fmt.Errorf("unknown kind %q", op.Kind)
	}
	if op.Guid == "" {
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
	if op.Unchecked && op.Kind != KindGet {
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
	if out.Status == 200 || out.Status == 201 {
		if out.User == nil || out.Expire == nil || out.Etag == nil || *out.Etag == "" {
			return fmt.Errorf("%s answered %d without user, expire and etag", op.Kind, out.Status)
		}
	}
	return nil
}

// ByGuid partitions the history, each partition in invoke order, GUIDs sorted.
func (h *History) ByGuid() ([]string, map[string][]RecordedOp) {
	parts := map[string][]RecordedOp{}
	for _, op := range h.Operations {
		parts[op.Guid] = append(parts[op.Guid], op)
	}
	guids := make([]string, 0, len(parts))
	for g, ops := range parts {
		guids = append(guids, g)
		sort.SliceStable(ops, func(i, j int) bool { return *ops[i].Invoke < *ops[j].Invoke })
	}
	sort.Strings(guids)
	return guids, parts
}
