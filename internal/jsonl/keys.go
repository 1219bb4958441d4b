package jsonl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// CheckKeys refuses a JSON value that encoding/json would read differently
// from a case-sensitive reader such as jq. encoding/json matches object keys
// to struct fields without regard to case and keeps the last of duplicate
// keys, so {"name":"shown","Name":"hidden"} shows "shown" to jq and gives
// "hidden" to Go. At every nesting level it refuses a key that appears
// twice, two keys that differ only in case (Unicode case folding, as
// encoding/json compares them), and a key that matches a field of target
// (a struct type, as json.Unmarshal would fill it) only when case is
// ignored. raw must be valid JSON.
func CheckKeys(raw []byte, target reflect.Type) error {
	if !utf8.Valid(raw) {
		// encoding/json would read the bad bytes as U+FFFD, so the
		// value acted on would not be the bytes shown.
		return errors.New("not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return checkValue(dec, target, "")
}

func checkValue(dec *json.Decoder, t reflect.Type, at string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && (t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)) {
		// A type that reads itself (time.Time): its own keys are its business.
		t = nil
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]field
		var elem reflect.Type
		if t != nil {
			switch t.Kind() {
			case reflect.Struct:
				fields = structFields(t)
			case reflect.Map:
				elem = t.Elem()
			}
		}
		seen := map[string]string{} // folded key → key as written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return err
			}
			k := kt.(string)
			path := at + "." + k
			if at == "" {
				path = k
			}
			f := fold(k)
			if prev, ok := seen[f]; ok {
				if prev == k {
					return fmt.Errorf("key %q appears twice", path)
				}
				return fmt.Errorf("keys %q and %q differ only in case", joinKey(at, prev), path)
			}
			seen[f] = k
			next := elem
			if fields != nil {
				fd, ok := fields[f]
				switch {
				case ok && fd.name != k:
					return fmt.Errorf("key %q: the field is %q (keys are case-sensitive)", path, joinKey(at, fd.name))
				case ok:
					next = fd.typ
				default:
					next = nil
				}
			}
			if err := checkValue(dec, next, path); err != nil {
				return err
			}
		}
		_, err := dec.Token() // '}'
		return err
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, elem, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return nil
}

func joinKey(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

type field struct {
	name string
	typ  reflect.Type
}

// structFields maps the folded JSON name of each field json.Unmarshal
// fills (exported, not "-"; embedded structs' fields promoted) to its name
// and type.
func structFields(t reflect.Type) map[string]field {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]field)
	}
	m := makeFields(t)
	fieldCache.Store(t, m)
	return m
}

var fieldCache sync.Map // reflect.Type → map[string]field

func makeFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range makeFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out[fold(name)] = field{name: name, typ: sf.Type}
	}
	return out
}

// fold maps s to a form equal for exactly the strings strings.EqualFold
// (and encoding/json) treats as equal: each rune becomes the smallest rune
// of its case-folding orbit.
func fold(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		// The smallest rune of an ASCII letter's orbit is its upper case
		// (k's orbit holds the Kelvin sign, s's the long s: both larger).
		return strings.ToUpper(s)
	}
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
