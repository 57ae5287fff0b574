package cloudifysim

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
)

// evalError is a failed intrinsic function evaluation.
type evalError struct{ msg string }

// Error returns the message.
func (e *evalError) Error() string { return e.msg }

// evaluator resolves intrinsic functions in outputs and capabilities against
// a deployment's inputs and its (simulated) runtime state.
type evaluator struct {
	s     *Simulator
	d     *deployment
	depth int
}

// eval resolves every intrinsic function inside v.
func (ev *evaluator) eval(v any) (any, error) {
	ev.depth++
	defer func() { ev.depth-- }()
	if ev.depth > 32 {
		return nil, &evalError{"function evaluation nested too deeply"}
	}
	switch x := v.(type) {
	case map[string]any:
		if isFunction(x) {
			for fn, args := range x {
				return ev.call(fn, args)
			}
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			r, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := ev.eval(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// evalArgs resolves a function's arguments (a list, or a single value).
func (ev *evaluator) evalArgs(args any) ([]any, error) {
	r, err := ev.eval(args)
	if err != nil {
		return nil, err
	}
	if l, ok := r.([]any); ok {
		return l, nil
	}
	return []any{r}, nil
}

// call evaluates one intrinsic function.
func (ev *evaluator) call(fn string, rawArgs any) (any, error) {
	args, err := ev.evalArgs(rawArgs)
	if err != nil {
		return nil, err
	}
	switch fn {
	case "get_input":
		return ev.getInput(args)
	case "get_secret":
		return ev.getSecret(args)
	case "get_attribute":
		return ev.getAttribute(args)
	case "get_property":
		return ev.getProperty(args)
	case "get_sys":
		return ev.getSys(args)
	case "get_label":
		return ev.getLabel(args)
	case "get_capability":
		return ev.getCapability(args)
	case "concat":
		return ev.concat(args)
	case "merge":
		return ev.merge(args)
	case "string_lower", "string_upper":
		return ev.changeCase(fn, args)
	case "string_replace":
		return ev.stringReplace(args)
	case "string_split":
		return ev.stringSplit(args)
	case "string_find":
		return ev.stringFind(args)
	}
	return nil, nil
}

// getInput evaluates get_input: an input of the deployment, then a path into it.
func (ev *evaluator) getInput(args []any) (any, error) {
	if len(args) == 0 {
		return nil, &evalError{"get_input requires an input name"}
	}
	name, _ := args[0].(string)
	v, ok := ev.d.inputs[name]
	if !ok {
		return nil, &evalError{fmt.Sprintf("get_input function references an unknown input '%s'", name)}
	}
	return walkPath(v, args[1:]), nil
}

// getSecret evaluates get_secret: a secret of the tenant, then a path into it; nil when there is none.
func (ev *evaluator) getSecret(args []any) (any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	key, _ := args[0].(string)
	v, ok := ev.s.secretValue(ev.d.tenant, key)
	if !ok {
		return nil, nil
	}
	return walkPath(deepCopy(v), args[1:]), nil
}

// getAttribute evaluates get_attribute: a runtime attribute of a node, then a path into it.
func (ev *evaluator) getAttribute(args []any) (any, error) {
	if len(args) < 2 {
		return nil, &evalError{fmt.Sprintf("Illegal arguments passed to get_attribute: %s", pyRepr(args))}
	}
	node, _ := args[0].(string)
	attr, _ := args[1].(string)
	v, err := ev.s.attribute(ev.d, node, attr)
	if err != nil {
		return nil, err
	}
	return walkPath(v, args[2:]), nil
}

// getProperty evaluates get_property: a property of a node of the plan, then a path into it.
func (ev *evaluator) getProperty(args []any) (any, error) {
	if len(args) < 2 {
		return nil, nil
	}
	node, _ := args[0].(string)
	prop, _ := args[1].(string)
	for _, n := range asSlice(ev.d.bp.plan["nodes"]) {
		nm := asMap(n)
		if nm["id"] == node {
			return walkPath(deepCopy(asMap(nm["properties"])[prop]), args[2:]), nil
		}
	}
	return nil, nil
}

// getSys evaluates get_sys: the deployment's id, name, blueprint, owner or tenant.
func (ev *evaluator) getSys(args []any) (any, error) {
	if len(args) < 2 {
		return nil, nil
	}
	switch fmt.Sprint(args[0]) + "." + fmt.Sprint(args[1]) {
	case "deployment.id":
		return ev.d.id, nil
	case "deployment.name":
		return ev.d.displayName, nil
	case "deployment.blueprint":
		return ev.d.blueprintID, nil
	case "deployment.owner":
		return ev.d.createdBy, nil
	case "tenant.name":
		return ev.d.tenant, nil
	}
	return nil, nil
}

// getLabel evaluates get_label: the values of a label of the deployment, or one of them by index.
func (ev *evaluator) getLabel(args []any) (any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	key, _ := args[0].(string)
	var vals []any
	for _, l := range ev.d.labels {
		if l.Key == key {
			vals = append(vals, l.Value)
		}
	}
	if len(args) > 1 {
		if i, ok := toInt(args[1]); ok && i >= 0 && i < len(vals) {
			return vals[i], nil
		}
		return nil, nil
	}
	if vals == nil {
		return nil, nil
	}
	return vals, nil
}

// getCapability evaluates get_capability: a capability of another deployment, then a path into it.
func (ev *evaluator) getCapability(args []any) (any, error) {
	if len(args) < 2 {
		return nil, nil
	}
	depID, _ := args[0].(string)
	other, ok := ev.s.deployments[depKey{ev.d.tenant, depID}]
	if !ok || other == ev.d {
		return nil, &evalError{fmt.Sprintf("Requested `Deployment` with ID `%s` was not found", depID)}
	}
	capName, _ := args[1].(string)
	def, ok := asMap(other.capabilities)[capName]
	if !ok {
		return nil, nil
	}
	sub := &evaluator{s: ev.s, d: other, depth: ev.depth}
	v, err := sub.eval(asMap(def)["value"])
	if err != nil {
		return nil, err
	}
	return walkPath(v, args[2:]), nil
}

// concat evaluates concat: the arguments as one string; nil while one of them is unset.
func (ev *evaluator) concat(args []any) (any, error) {
	var b strings.Builder
	for _, a := range args {
		if a == nil {
			// an attribute that does not exist yet leaves the whole value unset
			return nil, nil
		}
		b.WriteString(pyStr(a))
	}
	return b.String(), nil
}

// merge evaluates merge: the arguments' maps as one, later keys winning.
func (ev *evaluator) merge(args []any) (any, error) {
	out := map[string]any{}
	for _, a := range args {
		for k, v := range asMap(a) {
			out[k] = v
		}
	}
	return out, nil
}

// changeCase evaluates string_lower and string_upper.
func (ev *evaluator) changeCase(fn string, args []any) (any, error) {
	if len(args) == 0 {
		return nil, nil
	}
	if fn == "string_lower" {
		return strings.ToLower(pyStr(args[0])), nil
	}
	return strings.ToUpper(pyStr(args[0])), nil
}

// stringReplace evaluates string_replace: every occurrence of the second argument replaced by the third.
func (ev *evaluator) stringReplace(args []any) (any, error) {
	if len(args) < 3 {
		return nil, nil
	}
	return strings.ReplaceAll(pyStr(args[0]), pyStr(args[1]), pyStr(args[2])), nil
}

// stringSplit evaluates string_split: the parts of a string, or one of them by index.
func (ev *evaluator) stringSplit(args []any) (any, error) {
	if len(args) < 2 {
		return nil, nil
	}
	parts := strings.Split(pyStr(args[0]), pyStr(args[1]))
	if len(args) > 2 {
		if i, ok := toInt(args[2]); ok && i >= 0 && i < len(parts) {
			return parts[i], nil
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

// stringFind evaluates string_find: the index of a substring, -1 when absent.
func (ev *evaluator) stringFind(args []any) (any, error) {
	if len(args) < 2 {
		return nil, nil
	}
	return json.Number(fmt.Sprint(strings.Index(pyStr(args[0]), pyStr(args[1])))), nil
}

// walkPath follows nested keys or list indexes into v.
func walkPath(v any, path []any) any {
	for _, p := range path {
		switch x := v.(type) {
		case map[string]any:
			k, _ := p.(string)
			v = x[k]
		case []any:
			i, ok := toInt(p)
			if !ok || i < 0 || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// attribute returns a node's runtime attribute: the fixture's
// runtime_attributes when given, else a deterministic stand-in. Attributes
// exist only while the node's instance is started; before install (or after
// uninstall) they evaluate to null. A node with several instances cannot be
// referenced.
func (s *Simulator) attribute(d *deployment, node, attr string) (any, error) {
	var insts []*nodeInstance
	for _, ni := range d.nodes {
		if ni.nodeID == node {
			insts = append(insts, ni)
		}
	}
	if len(insts) > 1 {
		return nil, &evalError{fmt.Sprintf(
			"More than one node instance found for node \"%s\". Cannot resolve a node instance unambiguously.", node)}
	}
	if len(insts) == 0 || insts[0].state != "started" {
		return nil, nil
	}
	if v, ok := d.bp.sim.runtime[node][attr]; ok {
		return deepCopy(v), nil
	}
	return standIn(d.tenant+"/"+d.id, node, attr), nil
}

// standIn derives a stable fake runtime attribute from deployment, node and
// attribute names: an address for ip/host-like names, a random-looking
// secret for password/key-like names, and a plain string otherwise.
func standIn(dep, node, attr string) any {
	h := fnv.New64a()
	h.Write([]byte(dep + "\x00" + node))
	sum := h.Sum64()
	lower := strings.ToLower(attr)
	switch {
	case lower == "ip" || lower == "host" || lower == "address" || strings.HasSuffix(lower, "_ip") ||
		strings.HasSuffix(lower, "_address") || strings.HasSuffix(lower, "_host"):
		return fmt.Sprintf("10.%d.%d.%d", (sum>>16)&0xff, (sum>>8)&0xff, 1+(sum&0xff)%254)
	case strings.Contains(lower, "password") || strings.Contains(lower, "secret") || strings.Contains(lower, "key") ||
		strings.Contains(lower, "token"):
		h2 := fnv.New64a()
		h2.Write([]byte(dep + "\x00" + node + "\x00" + attr))
		const alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		x := h2.Sum64()
		var b strings.Builder
		for i := 0; i < 24; i++ {
			b.WriteByte(alphabet[x%uint64(len(alphabet))])
			x = x*6364136223846793005 + 1442695040888963407
		}
		return b.String()
	}
	return fmt.Sprintf("%s-%s-%04x", node, strings.ReplaceAll(attr, "_", "-"), sum&0xffff)
}

// evaluateDefs evaluates the values of output or capability definitions.
func (s *Simulator) evaluateDefs(d *deployment, defs map[string]any) (map[string]any, error) {
	ev := &evaluator{s: s, d: d}
	out := map[string]any{}
	names := make([]string, 0, len(defs))
	for n := range defs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		v, err := ev.eval(asMap(defs[n])["value"])
		if err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, nil
}
