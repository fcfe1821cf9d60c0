package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ankurah/ankurah-go/core/id"
	"github.com/ankurah/ankurah-go/core/value"
)

// ErrBadValue: a PROP=VALUE argument that cannot be stored as written.
var ErrBadValue = errors.New("cannot store value")

// assignment is one PROP=VALUE argument; a dotted PROP is a JSON path into
// the property named by its first part, as in queries (meta.producer.name).
type assignment struct {
	path []string
	raw  string
	arg  string
}

// parseAssignment reads PATH=VALUE. Path parts are names of letters, digits
// and _, or double-quoted (`"release date"`, "" for a quote) for any other
// name, as AnkQL writes them.
func parseAssignment(arg string) (assignment, error) {
	a := assignment{arg: arg}
	i := 0
	for {
		var part strings.Builder
		if i < len(arg) && arg[i] == '"' {
			i++
			for {
				if i >= len(arg) {
					return a, fmt.Errorf("%w: %q: unterminated quoted name", ErrBadValue, arg)
				}
				if arg[i] == '"' {
					if i+1 < len(arg) && arg[i+1] == '"' {
						part.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				part.WriteByte(arg[i])
				i++
			}
		} else {
			for i < len(arg) && arg[i] != '.' && arg[i] != '=' {
				part.WriteByte(arg[i])
				i++
			}
		}
		if part.Len() == 0 {
			return a, fmt.Errorf("%w: %q: want PROP=VALUE (an empty name)", ErrBadValue, arg)
		}
		a.path = append(a.path, part.String())
		if i >= len(arg) {
			return a, fmt.Errorf("%w: %q: want PROP=VALUE", ErrBadValue, arg)
		}
		switch arg[i] {
		case '.':
			i++
			continue
		case '=':
			a.raw = arg[i+1:]
			return a, nil
		}
		return a, fmt.Errorf("%w: %q: after a quoted name comes . or =", ErrBadValue, arg)
	}
}

// coerce converts a command-line value for one property. With a declared
// type (ft non-nil) the text is read as that type; without one it must be a
// JSON literal (2001, true, null, "a string", {"an":"object"}).
func coerce(collection, prop string, ft *fieldType, raw string) (value.Value, error) {
	fail := func(why string) (value.Value, error) {
		return value.Null, fmt.Errorf("%w: field %s of %s is %s: %q %s", ErrBadValue, prop, collection, ft, raw, why)
	}
	if ft == nil {
		v, err := value.FromJSON([]byte(raw))
		if err != nil {
			return value.Null, fmt.Errorf("%w: field %s of %s (no model declares its type): %q is not a JSON literal; write strings quoted (%s='\"%s\"'), numbers, true, false and null bare, or pass --models with the model's Go package",
				ErrBadValue, prop, collection, raw, prop, raw)
		}
		return v, nil
	}
	if ft.Plugin {
		return value.Null, fmt.Errorf("%w: field %s of %s is %s, a datatype with its own operations or a type of another package: the command line sets only plain values", ErrBadValue, prop, collection, ft.GoType)
	}
	if raw == "null" && (ft.Nullable || ft.Kind == value.KindNull) {
		return value.Null, nil
	}
	switch ft.Kind {
	case value.KindString:
		return value.String(raw), nil
	case value.KindInt:
		i, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fail("is not an integer")
		}
		return value.Int(i), nil
	case value.KindFloat:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fail("is not a number")
		}
		return value.Float(f), nil
	case value.KindBool:
		switch raw {
		case "true":
			return value.Bool(true), nil
		case "false":
			return value.Bool(false), nil
		}
		return fail("is not true or false")
	case value.KindBytes:
		b, err := base64.StdEncoding.DecodeString(raw)
		if err != nil {
			if b, err = base64.RawURLEncoding.DecodeString(raw); err != nil {
				return fail("is not base64")
			}
		}
		return value.Bytes(b), nil
	case value.KindRef:
		eid, err := id.ParseEntityID(raw)
		if err != nil {
			return fail("is not an entity id")
		}
		return value.Ref(eid), nil
	case value.KindJSON:
		v, err := value.JSON([]byte(raw))
		if err != nil {
			return fail("is not JSON")
		}
		return v, nil
	}
	// value.Value: any value, written as a JSON literal.
	v, err := value.FromJSON([]byte(raw))
	if err != nil {
		return fail("is not a JSON literal")
	}
	return v, nil
}

// buildValues turns PROP=VALUE arguments into property values for one
// entity of collection. Dotted paths of one property are merged into its
// JSON object, starting from current (the stored value, for set). A
// collection a model declares refuses properties the model does not have.
func buildValues(schema modelSchema, collection string, args []string, current func(prop string) value.Value) (map[string]value.Value, error) {
	fields, typed := schema[collection]
	out := map[string]value.Value{}
	docs := map[string]map[string]any{} // JSON objects being built, by property
	whole := map[string]bool{}
	for _, arg := range args {
		a, err := parseAssignment(arg)
		if err != nil {
			return nil, err
		}
		prop := a.path[0]
		var ft *fieldType
		if typed {
			f, ok := fields[prop]
			if !ok {
				return nil, fmt.Errorf("%w: %s has no field %s (its fields: %s)", ErrBadValue, collection, prop, schema.fieldNames(collection))
			}
			ft = &f
		}
		if len(a.path) == 1 {
			if _, dotted := docs[prop]; dotted || whole[prop] {
				return nil, fmt.Errorf("%w: %s is set twice", ErrBadValue, prop)
			}
			v, err := coerce(collection, prop, ft, a.raw)
			if err != nil {
				return nil, err
			}
			out[prop], whole[prop] = v, true
			continue
		}
		if whole[prop] {
			return nil, fmt.Errorf("%w: %s is set whole and by path (%s)", ErrBadValue, prop, arg)
		}
		if ft != nil && ft.Kind != value.KindJSON && ft.Kind != value.KindNull {
			return nil, fmt.Errorf("%w: %s: field %s of %s is %s, not JSON: a dotted path reaches only into JSON", ErrBadValue, arg, prop, collection, ft)
		}
		doc, ok := docs[prop]
		if !ok {
			if doc, err = startDoc(prop, current(prop)); err != nil {
				return nil, err
			}
			docs[prop] = doc
		}
		var leaf any
		if err := decodeJSON([]byte(a.raw), &leaf); err != nil {
			return nil, fmt.Errorf("%w: %s: %q is not a JSON literal (inside JSON, write strings quoted: %s='\"%s\"')",
				ErrBadValue, strings.Join(a.path, "."), a.raw, strings.Join(a.path, "."), a.raw)
		}
		if err := setPath(doc, a.path[1:], leaf); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadValue, arg, err)
		}
	}
	for prop, doc := range docs {
		raw, err := json.Marshal(doc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadValue, prop, err)
		}
		if out[prop], err = value.JSON(raw); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadValue, prop, err)
		}
	}
	return out, nil
}

// startDoc is the JSON object a dotted assignment edits: the stored value
// when it is an object, a new object when there is none.
func startDoc(prop string, cur value.Value) (map[string]any, error) {
	doc := map[string]any{}
	if cur.IsNull() {
		return doc, nil
	}
	raw, ok := cur.AsJSON()
	if ok && decodeJSON(raw, &doc) == nil {
		return doc, nil
	}
	return nil, fmt.Errorf("%w: %s holds %s %s, not a JSON object: set it whole", ErrBadValue, prop, cur.Kind(), cur.Text())
}

// setPath sets doc[path...] = leaf, making objects on the way.
func setPath(doc map[string]any, path []string, leaf any) error {
	for i, k := range path[:len(path)-1] {
		next, ok := doc[k]
		if !ok {
			m := map[string]any{}
			doc[k], doc = m, m
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is not an object", strings.Join(path[:i+1], "."))
		}
		doc = m
	}
	doc[path[len(path)-1]] = leaf
	return nil
}

// decodeJSON decodes one JSON document, keeping numbers as written (an
// int64 beyond 2^53 stays exact).
func decodeJSON(raw []byte, x any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(x); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data after JSON value")
	}
	return nil
}
