//go:build js

package main

import (
	"context"
	"fmt"
	"syscall/js"

	"github.com/ankurah/ankurah-go/core"
	"github.com/ankurah/ankurah-go/core/storage"
)

// aggregate(collection, query, args, groupBy, aggs): a live aggregate
// handle. groupBy is an array of property names (empty for a count), aggs
// an array of terms in text form ("sum(price)", "min(year)", …).
func (a *api) aggregate(args []js.Value) (any, error) {
	c, err := a.nodeCtx()
	if err != nil {
		return nil, err
	}
	coll, q, qargs, err := queryArgs(args, 0)
	if err != nil {
		return nil, err
	}
	var spec core.AggregateSpec
	if spec.GroupBy, err = strings(arg(args, 3), "groupBy"); err != nil {
		return nil, err
	}
	terms, err := strings(arg(args, 4), "aggs")
	if err != nil {
		return nil, err
	}
	for _, t := range terms {
		ag, err := storage.ParseAgg(t)
		if err != nil {
			return nil, err
		}
		spec.Aggs = append(spec.Aggs, ag)
	}
	a.settle()
	la, err := c.Aggregate(context.Background(), coll, spec, q, qargs...)
	if err != nil {
		return nil, err
	}
	return a.put(la), nil
}

// strings reads an optional array of strings.
func strings(v js.Value, what string) ([]string, error) {
	if v.IsUndefined() || v.IsNull() {
		return nil, nil
	}
	if !v.InstanceOf(jsArray) {
		return nil, fmt.Errorf("%w: %s must be an array of strings", errInvalidArg, what)
	}
	out := make([]string, v.Length())
	for i := range out {
		e := v.Index(i)
		if e.Type() != js.TypeString {
			return nil, fmt.Errorf("%w: %s[%d] must be a string", errInvalidArg, what, i)
		}
		out[i] = e.String()
	}
	return out, nil
}

func groupJS(g core.Group) js.Value {
	key := jsArray.New(len(g.Key))
	for i, v := range g.Key {
		key.SetIndex(i, toJS(v))
	}
	vals := jsArray.New(len(g.Values))
	for i, v := range g.Values {
		vals.SetIndex(i, toJS(v))
	}
	o := jsObject.New()
	o.Set("key", key)
	o.Set("count", float64(g.Count))
	o.Set("values", vals)
	return o
}

func groupsJS(gs []core.Group) js.Value {
	out := jsArray.New(len(gs))
	for i, g := range gs {
		out.SetIndex(i, groupJS(g))
	}
	return out
}

func (a *api) agGroups(args []js.Value) (any, error) {
	la, err := handle[*core.LiveAggregate](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	return groupsJS(la.Groups()), nil
}

// agSubscribe(h, cb): cb({changes, groups}) with the Initial groups, then
// whenever groups change; returns a subscription id.
func (a *api) agSubscribe(args []js.Value) (any, error) {
	la, err := handle[*core.LiveAggregate](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	cb := arg(args, 1)
	if cb.Type() != js.TypeFunction {
		return nil, fmt.Errorf("%w: callback must be a function", errInvalidArg)
	}
	return a.addSub(la.Subscribe(func(cs core.GroupChangeSet) {
		changes := jsArray.New(len(cs.Changes))
		for i, ch := range cs.Changes {
			o := jsObject.New()
			o.Set("kind", ch.Kind.String())
			o.Set("group", groupJS(ch.Group))
			changes.SetIndex(i, o)
		}
		o := jsObject.New()
		o.Set("changes", changes)
		o.Set("groups", groupsJS(cs.Groups))
		cb.Invoke(o)
	})), nil
}

func (a *api) agError(args []js.Value) (any, error) {
	la, err := handle[*core.LiveAggregate](a, arg(args, 0))
	if err != nil {
		return nil, err
	}
	if err := la.Err(); err != nil {
		return jsErr(err), nil
	}
	return nil, nil
}

func (a *api) agClose(args []js.Value) (any, error) {
	h := arg(args, 0)
	la, err := handle[*core.LiveAggregate](a, h)
	if err != nil {
		return nil, err
	}
	a.release(h.Int())
	go la.Close()
	return nil, nil
}
