package benchreport

import (
	"encoding/json"
	"fmt"
)

// benchASL is the part of an Amazon States Language document that the report needs
// to replay an execution: the states, their types and where each one goes next.
type benchASL struct {
	StartAt string                   `json:"StartAt"`
	States  map[string]benchASLState `json:"States"`
}

type benchASLState struct {
	Type    string           `json:"Type"`
	Next    string           `json:"Next"`
	End     bool             `json:"End"`
	Default string           `json:"Default"`
	Choices []benchASLChoice `json:"Choices"`
}

type benchASLChoice struct {
	And           []benchASLChoice `json:"And"`
	Variable      string           `json:"Variable"`
	BooleanEquals *bool            `json:"BooleanEquals"`
	StringEquals  *string          `json:"StringEquals"`
	Next          string           `json:"Next"`
}

func parseBenchASL(b []byte) (benchASL, error) {
	var a benchASL
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("state machine definition: %w", err)
	}
	if a.States[a.StartAt].Type == "" {
		return a, fmt.Errorf("state machine definition: StartAt %q is not a state", a.StartAt)
	}
	return a, nil
}

// transitions replays one execution in which every Task state answers the next of
// outs (the step function's answers, in order; no fault, so no Retry or Catch) and
// returns the state transitions it costs: one per state entered, as Step Functions
// Standard bills them. It fails when the outputs do not fit the definition.
func (a benchASL) transitions(outs []TaskOutput) (int, error) {
	state, n, next := a.StartAt, 0, 0
	var data map[string]any
	for range 1_000_000 {
		st, ok := a.States[state]
		if !ok {
			return 0, fmt.Errorf("no state %q", state)
		}
		n++
		switch st.Type {
		case "Task":
			if next >= len(outs) {
				return 0, fmt.Errorf("state %q: the execution needs more step answers than the %d given", state, len(outs))
			}
			o := outs[next]
			next++
			data = map[string]any{"done": o.Done, "state": o.State, "wait_seconds": float64(o.WaitSeconds)}
		case "Choice":
			to := st.Default
			for _, c := range st.Choices {
				ok, err := c.matches(data)
				if err != nil {
					return 0, fmt.Errorf("state %q: %w", state, err)
				}
				if ok {
					to = c.Next
					break
				}
			}
			if to == "" {
				return 0, fmt.Errorf("state %q: no choice matches and no Default", state)
			}
			state = to
			continue
		case "Wait", "Pass":
		case "Succeed", "Fail":
			if next != len(outs) {
				return 0, fmt.Errorf("the execution ended in %q with %d of %d step answers used", state, next, len(outs))
			}
			return n, nil
		default:
			return 0, fmt.Errorf("state %q: type %s is not replayed", state, st.Type)
		}
		if st.End {
			return n, nil
		}
		state = st.Next
	}
	return 0, fmt.Errorf("the execution does not end")
}

// matches evaluates a Choice rule (And, BooleanEquals, StringEquals on "$.field").
func (c benchASLChoice) matches(data map[string]any) (bool, error) {
	if len(c.And) > 0 {
		for _, sub := range c.And {
			ok, err := sub.matches(data)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	}
	if len(c.Variable) < 3 || c.Variable[:2] != "$." {
		return false, fmt.Errorf("choice variable %q is not replayed", c.Variable)
	}
	v := data[c.Variable[2:]]
	switch {
	case c.BooleanEquals != nil:
		b, ok := v.(bool)
		return ok && b == *c.BooleanEquals, nil
	case c.StringEquals != nil:
		s, ok := v.(string)
		return ok && s == *c.StringEquals, nil
	}
	return false, fmt.Errorf("choice on %s: operator not replayed", c.Variable)
}
