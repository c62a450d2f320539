package jsonwalk

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// member is one member as Members reports it.
type member struct{ rawKey, key, value string }

// walk collects what Members reports for obj.
func walk(t *testing.T, obj []byte) []member {
	t.Helper()
	var got []member
	err := Members(obj, func(rawKey, key, value []byte) error {
		got = append(got, member{string(rawKey), string(key), string(value)})
		return nil
	})
	if err != nil {
		t.Fatalf("Members(%q): %v", obj, err)
	}
	return got
}

// decoderMembers is what encoding/json's token API sees in obj: the
// decoded names and the raw values, in order, duplicates kept.
func decoderMembers(t *testing.T, obj []byte) []member {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("%q is not an object: %v", obj, err)
	}
	var got []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("member name of %q: %v", obj, err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("member value of %q: %v", obj, err)
		}
		got = append(got, member{key: tok.(string), value: string(v)})
	}
	return got
}

func TestMembers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		obj  string
		want []member
	}{
		{"empty", `{}`, nil},
		{"empty with space", " \t\r\n{ \n } \n", nil},
		{"scalars", `{"s":"x","n":-1.5e3,"t":true,"f":false,"z":null}`, []member{
			{`"s"`, "s", `"x"`}, {`"n"`, "n", `-1.5e3`}, {`"t"`, "t", `true`}, {`"f"`, "f", `false`}, {`"z"`, "z", `null`},
		}},
		{"space everywhere", " { \"a\" \t:\n 1 ,\r\n \"b\" : [ 1 , 2 ] } ", []member{
			{`"a"`, "a", `1`}, {`"b"`, "b", `[ 1 , 2 ]`},
		}},
		{"nested", `{"o":{"x":{"}":"]"},"y":[{}]},"a":[[],["{",{"q":"\"}"}]],"last":0}`, []member{
			{`"o"`, "o", `{"x":{"}":"]"},"y":[{}]}`}, {`"a"`, "a", `[[],["{",{"q":"\"}"}]]`}, {`"last"`, "last", `0`},
		}},
		{"escaped names", `{"\u0069d":1,"a\"b":2,"\\":3,"\ud800":4,"é\u00e9":5}`, []member{
			{`"\u0069d"`, "id", `1`}, {`"a\"b"`, `a"b`, `2`}, {`"\\"`, `\`, `3`}, {`"\ud800"`, "\ufffd", `4`}, {`"é\u00e9"`, "éé", `5`},
		}},
		{"duplicates kept", `{"id":"a","id":"b"}`, []member{{`"id"`, "id", `"a"`}, {`"id"`, "id", `"b"`}}},
		{"string value with escapes", `{"k":"a\\\"b\n"}`, []member{{`"k"`, "k", `"a\\\"b\n"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !json.Valid([]byte(tt.obj)) {
				t.Fatalf("test object %q is not valid JSON", tt.obj)
			}
			got := walk(t, []byte(tt.obj))
			if len(got) != len(tt.want) {
				t.Fatalf("Members(%q) gave %q, want %q", tt.obj, got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("member %d of %q = %q, want %q", i, tt.obj, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestMembersStopsAtError(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	var seen []string
	err := Members([]byte(`{"a":1,"b":2,"c":3}`), func(_, key, _ []byte) error {
		seen = append(seen, string(key))
		if string(key) == "b" {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Members returned %v, want the callback's error", err)
	}
	if strings.Join(seen, ",") != "a,b" {
		t.Errorf("callback saw %q, want a,b", seen)
	}
}

func TestMembersAliasesInput(t *testing.T) {
	t.Parallel()
	obj := []byte(`{"plain":"v"}`)
	err := Members(obj, func(rawKey, key, value []byte) error {
		if &key[0] != &obj[2] || &value[0] != &obj[9] || &rawKey[0] != &obj[1] {
			t.Errorf("key, raw key or value is a copy; want slices of the input")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnquote(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		`""`, `"abc"`, `"é"`, `"\u00e9"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00x"`, `"\"\\\/\b\f\n\r\t"`,
		"\"\u2028\"", "\"a\xffb\"", "\"\xed\xa0\x80\"", "\"\xef\xbf\xbd\"",
	} {
		got, err := Unquote([]byte(raw))
		var want string
		werr := json.Unmarshal([]byte(raw), &want)
		if err != nil || werr != nil || string(got) != want {
			t.Errorf("Unquote(%q) = %q, %v; encoding/json gives %q, %v", raw, got, err, want, werr)
		}
	}
}

func TestSkipSpace(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in       string
		from, to int
	}{
		{"", 0, 0}, {" \t\r\nx", 0, 4}, {"x ", 0, 0}, {"x  ", 1, 3}, {"\u00a0", 0, 0}, {"\v\f", 0, 0},
	} {
		if got := SkipSpace([]byte(tc.in), tc.from); got != tc.to {
			t.Errorf("SkipSpace(%q, %d) = %d, want %d", tc.in, tc.from, got, tc.to)
		}
	}
}

// FuzzMembersMatchesDecoder: on any valid JSON object, Members reports
// the same member names and raw values as encoding/json's token API, and
// the raw key decodes to the key.
func FuzzMembersMatchesDecoder(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"a":1}`, `{"id":"x","id":"y"}`, "{ \"i\\u0064\" : \"x\" , \"a\u2028\" : [ 1 , \"]}\\\"\" ] , \"n\":true}\n",
		`{"a":{"b":[1,{"c":null}]},"d":-0.5E-7}`, "{\"\xff\":\"\xfe\"}", `{"\ud800":"\udfff"}`, `[1]`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		if !json.Valid(obj) || obj[SkipSpace(obj, 0)] != '{' {
			t.Skip()
		}
		got, want := walk(t, obj), decoderMembers(t, obj)
		if len(got) != len(want) {
			t.Fatalf("Members(%q) gave %d members, encoding/json %d", obj, len(got), len(want))
		}
		for i := range got {
			if got[i].key != want[i].key || got[i].value != want[i].value {
				t.Fatalf("member %d of %q: key %q value %q, encoding/json key %q value %q",
					i, obj, got[i].key, got[i].value, want[i].key, want[i].value)
			}
			var k string
			if err := json.Unmarshal([]byte(got[i].rawKey), &k); err != nil || k != got[i].key {
				t.Fatalf("raw key %q decodes to %q (%v), Members gave key %q", got[i].rawKey, k, err, got[i].key)
			}
		}
	})
}
