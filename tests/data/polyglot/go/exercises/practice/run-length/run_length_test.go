package runlength

import "testing"

func TestEncode(t *testing.T) {
	for _, tc := range encodeTests {
		t.Run(tc.description, func(t *testing.T) {
			if actual := Encode(tc.input); actual != tc.expected {
				t.Fatalf("Encode(%q) = %q, want %q", tc.input, actual, tc.expected)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeTests {
		t.Run(tc.description, func(t *testing.T) {
			if actual := Decode(tc.input); actual != tc.expected {
				t.Fatalf("Decode(%q) = %q, want %q", tc.input, actual, tc.expected)
			}
		})
	}
}
