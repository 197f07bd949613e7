package wire

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Schemas returns the JSON Schema (OpenAPI 3.1 dialect) of each value's type
// and of every named struct they reach, keyed by Go type name: what
// encoding/json writes for them. A field without omitempty is required; a
// pointer without it may be null. Slices are never null on the wire: the code
// that fills a wire struct makes empty lists empty, not nil. The `doc` tag becomes the
// description, `format:"date-time"` the format and `enum:"a|b"` the allowed
// values. Named struct types are
// referenced as #/components/schemas/Name, so each shape is written once.
func Schemas(values ...any) map[string]any {
	g := &gen{out: map[string]any{}}
	for _, v := range values {
		g.ref(reflect.TypeOf(v))
	}
	return g.out
}

type gen struct{ out map[string]any }

var rawMessage = reflect.TypeOf(json.RawMessage(nil))

// schemaer is a type that writes its own JSON with a MarshalJSON whose
// shape reflection cannot see, and so states its schema itself.
type schemaer interface{ JSONSchema() map[string]any }

var schemaerType = reflect.TypeOf((*schemaer)(nil)).Elem()

// ref is the schema of a use of t: a $ref for a named struct, inline otherwise.
func (g *gen) ref(t reflect.Type) map[string]any {
	if t == rawMessage {
		return map[string]any{}
	}
	if t.Kind() != reflect.Pointer && t.Implements(schemaerType) {
		return reflect.Zero(t).Interface().(schemaer).JSONSchema()
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.ref(t.Elem())
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		if _, ok := g.out[t.Name()]; !ok {
			g.out[t.Name()] = nil // mark before recursing: types may refer to themselves
			g.out[t.Name()] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + t.Name()}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.ref(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.ref(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	return map[string]any{} // interface: any JSON value
}

// object is the schema of struct t, with embedded structs' fields promoted
// as encoding/json promotes them.
func (g *gen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if f.Anonymous && name == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if name == "" {
				name = f.Name
			}
			s := g.ref(f.Type)
			omit := strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
			if !omit && f.Type.Kind() == reflect.Pointer {
				s = map[string]any{"oneOf": []any{s, map[string]any{"type": "null"}}}
			}
			if doc := f.Tag.Get("doc"); doc != "" || f.Tag.Get("enum") != "" || f.Tag.Get("format") != "" {
				if _, isRef := s["$ref"]; isRef {
					s = map[string]any{"allOf": []any{s}}
				}
				if doc != "" {
					s["description"] = doc
				}
				if format := f.Tag.Get("format"); format != "" {
					s["format"] = format
				}
				if enum := f.Tag.Get("enum"); enum != "" {
					var vs []any
					for _, v := range strings.Split(enum, "|") {
						vs = append(vs, v)
					}
					s["enum"] = vs
				}
			}
			props[name] = s
			if !omit {
				required = append(required, name)
			}
		}
	}
	walk(t)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		out["required"] = required
	}
	return out
}
