package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// decodeStrict decodes YAML into v, failing on the first unknown field or
// mistyped value with the file, the line and the field's path:
//
//	engines.yaml:14: engines[0] (vllm): unknown field "prot" (known: name, kind, model, ...)
//
// yaml.v3's KnownFields reports unknown fields with a line but without the
// file or the path, and not at all inside values decoded from yaml.Node, so
// the walk is done here: mappings are matched against the struct's yaml
// tags; leaves are decoded by yaml.v3 itself.
func decodeStrict(file string, data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s: empty file", file)
		}
		return syntaxError(file, data, err)
	}
	if len(root.Content) == 0 {
		return fmt.Errorf("%s: empty file", file)
	}
	w := walker{file: file}
	return w.decode(root.Content[0], reflect.ValueOf(v).Elem(), "")
}

// yamlLine matches the position yaml.v3 puts in a syntax error.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// syntaxError reports a YAML syntax error at its line. yaml.v3 gives
// parser errors ("did not find expected key", an unclosed bracket) the
// 0-based line of the enclosing collection, one line early and sometimes
// far from the problem, and scanner errors the line of the token before
// the problem. The line reported here is the first line at which the
// file, read up to and including it, fails with the same message: where
// a reader would see the mistake.
func syntaxError(file string, data []byte, err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	msg := err.Error()[len(m[0]):]
	lines := bytes.SplitAfter(data, []byte("\n"))
	for k := 1; k <= len(lines); k++ {
		var n yaml.Node
		perr := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		if perr == nil {
			continue
		}
		if pm := yamlLine.FindStringSubmatch(perr.Error()); pm != nil && perr.Error()[len(pm[0]):] == msg {
			return &lineError{fmt.Sprintf("%s:%d: YAML syntax: %s", file, k, msg), err}
		}
	}
	return fmt.Errorf("%s: %w", file, err)
}

// lineError is an error with its position corrected; it wraps yaml.v3's.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

type walker struct{ file string }

func (w walker) errf(n *yaml.Node, path, format string, args ...any) error {
	where := path
	if where == "" {
		where = "top level"
	}
	return fmt.Errorf("%s:%d: %s: %s", w.file, n.Line, where, fmt.Sprintf(format, args...))
}

func (w walker) decode(n *yaml.Node, v reflect.Value, path string) error {
	if n.Kind == yaml.AliasNode {
		return w.decode(n.Alias, v, path)
	}
	if v.Kind() == reflect.Pointer {
		if n.Tag == "!!null" {
			v.Set(reflect.Zero(v.Type()))
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return w.decode(n, v.Elem(), path)
	}
	switch {
	case v.Kind() == reflect.Struct && !isLeafStruct(v.Type()):
		if n.Kind != yaml.MappingNode {
			return w.errf(n, path, "want a mapping of fields, got %s", describe(n))
		}
		fields := structFields(v.Type())
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			idx, ok := fields[k.Value]
			if !ok {
				return w.errf(k, path, "unknown field %q (known: %s)", k.Value, knownList(fields))
			}
			if err := w.decode(val, v.Field(idx), join(path, k.Value)); err != nil {
				return err
			}
		}
		return nil
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() != reflect.Uint8:
		if n.Kind != yaml.SequenceNode {
			return w.errf(n, path, "want a list, got %s", describe(n))
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if name := nameOf(item); name != "" {
				p += " (" + name + ")"
			}
			if err := w.decode(item, s.Index(i), p); err != nil {
				return err
			}
		}
		v.Set(s)
		return nil
	case v.Kind() == reflect.Map && v.Type().Key().Kind() == reflect.String:
		if n.Kind != yaml.MappingNode {
			return w.errf(n, path, "want a mapping, got %s", describe(n))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			e := reflect.New(v.Type().Elem()).Elem()
			if err := w.decode(val, e, join(path, k.Value)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
		}
		v.Set(m)
		return nil
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		msg := err.Error()
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			msg = te.Errors[0]
			if i := strings.Index(msg, ": "); strings.HasPrefix(msg, "line ") && i > 0 {
				msg = msg[i+2:]
			}
		}
		return w.errf(n, path, "%s (want %s)", msg, typeName(v.Type()))
	}
	return nil
}

// isLeafStruct reports structs that yaml.v3 decodes from a scalar.
func isLeafStruct(t reflect.Type) bool {
	return t.PkgPath() == "time" || reflect.PointerTo(t).Implements(reflect.TypeFor[yaml.Unmarshaler]())
}

func structFields(t reflect.Type) map[string]int {
	m := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

func knownList(fields map[string]int) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool { return fields[names[i]] < fields[names[j]] })
	return strings.Join(names, ", ")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// nameOf returns the "name" or "id" of a mapping, to label list items.
func nameOf(n *yaml.Node) string {
	if n.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i].Value; k == "name" || k == "id" {
			return n.Content[i+1].Value
		}
	}
	return ""
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func typeName(t reflect.Type) string {
	switch t.String() {
	case "time.Duration":
		return "a duration such as 90s or 40m"
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "string":
		return "a string"
	}
	return t.String()
}
