package main

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
)

// An emulation of the parts of Python's argparse (3.12, the images'
// Python) that vLLM's and SGLang's entrypoints rely on: long options
// matched exactly or, as allow_abbrev (on by default) permits, by an
// unambiguous prefix; "--flag value" and "--flag=value"; store_true and
// BooleanOptionalAction flags; nargs "+"; choices; int and float types; one
// optional positional; and argparse's errors, printed as
// ArgumentParser.error does (the usage, then "<prog>: error: <message>",
// exit status 2), in argparse's order: a bad value at once, a missing
// required option at the end of parse_known_args, unrecognized arguments
// after it (cpython Lib/argparse.py).

type kind int

const (
	kValue   kind = iota // one value (nargs None)
	kValues              // nargs "+"
	kTrue                // store_true
	kBoolOpt             // argparse.BooleanOptionalAction: --x and --no-x
)

// opt is one argparse action.
type opt struct {
	names    []string // option strings, the first one's dest names it
	kind     kind
	typ      string // "", "int", "float"
	choices  []string
	required bool
}

func (o *opt) dest() string {
	for _, n := range o.names {
		if strings.HasPrefix(n, "--") {
			return strings.ReplaceAll(n[2:], "-", "_")
		}
	}
	return strings.TrimLeft(o.names[0], "-")
}

func (o *opt) metavar() string {
	if len(o.choices) > 0 {
		return "{" + strings.Join(o.choices, ",") + "}"
	}
	return strings.ToUpper(o.dest())
}

// argParser is one parser: its prog, its usage (empty: generated as
// argparse formats it) and its actions.
type argParser struct {
	prog       string
	usage      string
	opts       []*opt
	positional string // the dest of one optional positional (nargs "?"), or ""
}

// argError is a parse failure: what argparse passes to error().
type argError struct{ msg string }

func (e *argError) Error() string { return e.msg }

// parsed is what parse found: each dest's values ("true"/"false" for
// flags), by dest.
type parsed struct {
	values map[string][]string
	extras []string
}

func (p parsed) get(dest string) (string, bool) {
	v, ok := p.values[dest]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}

var negativeNumber = regexp.MustCompile(`^-\d+$|^-\d*\.\d+$`)

// looksLikeOption is argparse's test for an 'O' in the argument pattern.
func looksLikeOption(s string) bool {
	return len(s) > 1 && s[0] == '-' && !negativeNumber.MatchString(s)
}

// lookup finds the action for an option string, as
// ArgumentParser._parse_optional does: exact, then (for "--" options) a
// unique prefix. An ambiguous prefix is an error; nil: unknown.
func (p *argParser) lookup(name string) (*opt, string, error) {
	for _, o := range p.opts {
		for _, n := range o.names {
			if n == name {
				return o, n, nil
			}
			if o.kind == kBoolOpt && strings.HasPrefix(n, "--") && "--no-"+n[2:] == name {
				return o, name, nil
			}
		}
	}
	if !strings.HasPrefix(name, "--") {
		return nil, "", nil
	}
	var hits []string
	var hit *opt
	for _, o := range p.opts {
		for _, n := range o.allNames() {
			if strings.HasPrefix(n, name) {
				hits = append(hits, n)
				hit = o
			}
		}
	}
	switch len(hits) {
	case 0:
		return nil, "", nil
	case 1:
		return hit, hits[0], nil
	}
	return nil, "", &argError{fmt.Sprintf("ambiguous option: %s could match %s", name, strings.Join(hits, ", "))}
}

func (o *opt) allNames() []string {
	if o.kind != kBoolOpt {
		return o.names
	}
	var out []string
	for _, n := range o.names {
		out = append(out, n)
		if strings.HasPrefix(n, "--") {
			out = append(out, "--no-"+n[2:])
		}
	}
	return out
}

// parse parses args as parse_args would; the error is the message
// error() prints.
func (p *argParser) parse(args []string) (parsed, error) {
	res := parsed{values: map[string][]string{}}
	seen := map[*opt]bool{}
	onlyPositional := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if onlyPositional || !looksLikeOption(a) {
			if a == "--" && !onlyPositional {
				onlyPositional = true
				continue
			}
			if _, done := res.values[p.positional]; p.positional != "" && !done {
				res.values[p.positional] = []string{a}
				continue
			}
			res.extras = append(res.extras, a)
			continue
		}
		name, explicit, hasExplicit := a, "", false
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(a, "--") {
			name, explicit, hasExplicit = k, v, true
		}
		o, used, err := p.lookup(name)
		if err != nil {
			return res, err
		}
		if o == nil && !strings.HasPrefix(a, "--") && len(a) > 2 {
			// A single-character short option with its value attached (-O3).
			if so, _, _ := p.lookup(a[:2]); so != nil && (so.kind == kValue || so.kind == kValues) {
				o, used, explicit, hasExplicit = so, a[:2], a[2:], true
			}
		}
		if o == nil {
			res.extras = append(res.extras, a)
			continue
		}
		seen[o] = true
		switch o.kind {
		case kTrue, kBoolOpt:
			if hasExplicit {
				return res, &argError{fmt.Sprintf("argument %s: ignored explicit argument %s", o.display(), pyRepr(explicit))}
			}
			v := "true"
			if strings.HasPrefix(used, "--no-") && o.kind == kBoolOpt {
				v = "false"
			}
			res.values[o.dest()] = []string{v}
		case kValue:
			var v string
			switch {
			case hasExplicit:
				v = explicit
			case i+1 < len(args) && !looksLikeOption(args[i+1]):
				i++
				v = args[i]
			default:
				return res, &argError{fmt.Sprintf("argument %s: expected one argument", o.display())}
			}
			if err := o.check(v); err != nil {
				return res, err
			}
			res.values[o.dest()] = []string{v}
		case kValues:
			var vs []string
			if hasExplicit {
				vs = append(vs, explicit)
			}
			for i+1 < len(args) && !looksLikeOption(args[i+1]) {
				i++
				vs = append(vs, args[i])
			}
			if len(vs) == 0 {
				return res, &argError{fmt.Sprintf("argument %s: expected at least one argument", o.display())}
			}
			for _, v := range vs {
				if err := o.check(v); err != nil {
					return res, err
				}
			}
			res.values[o.dest()] = vs
		}
	}
	var missing []string
	for _, o := range p.opts {
		if o.required && !seen[o] {
			missing = append(missing, o.display())
		}
	}
	if len(missing) > 0 {
		return res, &argError{"the following arguments are required: " + strings.Join(missing, ", ")}
	}
	return res, nil
}

// display is how argparse names an action in a message: its option
// strings joined with "/".
func (o *opt) display() string {
	if o.kind == kBoolOpt {
		return strings.Join(o.allNames(), "/")
	}
	return strings.Join(o.names, "/")
}

// check converts and checks one value as argparse's _get_values does.
func (o *opt) check(v string) error {
	switch o.typ {
	case "int":
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return &argError{fmt.Sprintf("argument %s: invalid int value: %s", o.display(), pyRepr(v))}
		}
	case "float":
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return &argError{fmt.Sprintf("argument %s: invalid float value: %s", o.display(), pyRepr(v))}
		}
	}
	if len(o.choices) > 0 {
		for _, c := range o.choices {
			if c == v {
				return nil
			}
		}
		quoted := make([]string, len(o.choices))
		for i, c := range o.choices {
			quoted[i] = pyRepr(c)
		}
		return &argError{fmt.Sprintf("argument %s: invalid choice: %s (choose from %s)", o.display(), pyRepr(v), strings.Join(quoted, ", "))}
	}
	return nil
}

// pyRepr is Python's repr of a plain string.
func pyRepr(s string) string {
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		return `"` + s + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// formatUsage is the usage as argparse prints it: "usage: " and the
// given usage, or the one HelpFormatter generates, wrapped at 78 columns
// (the 80 of a terminal-less container, less 2).
func (p *argParser) formatUsage() string {
	if p.usage != "" {
		return "usage: " + p.usage + "\n"
	}
	parts := []string{"[-h]"}
	for _, o := range p.opts {
		part := o.names[0]
		switch o.kind {
		case kValue:
			part += " " + o.metavar()
		case kValues:
			part += " " + o.metavar() + " [" + o.metavar() + " ...]"
		case kBoolOpt:
			part = "--" + strings.TrimPrefix(o.names[0], "--") + " | --no-" + strings.TrimPrefix(o.names[0], "--")
		}
		if !o.required {
			part = "[" + part + "]"
		}
		parts = append(parts, part)
	}
	const width = 78
	prefix := "usage: "
	indent := strings.Repeat(" ", len(prefix)+len(p.prog)+1)
	var lines []string
	var line []string
	lineLen := len(prefix) - 1
	for _, part := range append([]string{p.prog}, parts...) {
		if lineLen+1+len(part) > width && len(line) > 0 {
			lines = append(lines, strings.Join(line, " "))
			line, lineLen = nil, len(indent)-1
		}
		line = append(line, part)
		lineLen += len(part) + 1
	}
	if len(line) > 0 {
		lines = append(lines, strings.Join(line, " "))
	}
	if p.positional != "" {
		lines[len(lines)-1] += " [" + p.positional + "]"
	}
	return prefix + strings.Join(lines, "\n"+indent) + "\n"
}

// fail prints what ArgumentParser.error prints and returns its exit status.
func fail(w io.Writer, usage, prog string, err error) int {
	fmt.Fprint(w, usage)
	fmt.Fprintf(w, "%s: error: %s\n", prog, err)
	return 2
}

func joinArgs(xs []string) string { return strings.Join(xs, " ") }
