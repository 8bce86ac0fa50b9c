package runlength

var encodeTests = []struct {
	description string
	input       string
	expected    string
}{
	{"empty string", "", ""},
	{"single characters only", "XYZ", "XYZ"},
	{"runs and singles", "WWWWWWWWWWWWBWWWWWWWWWWWWBBBWWWWWWWWWWWWWWWWWWWWWWWWB", "12WB12W3B24WB"},
	{"spaces", "  hsqq qww  ", "2 hs2q q2w2 "},
}

var decodeTests = []struct {
	description string
	input       string
	expected    string
}{
	{"empty string", "", ""},
	{"single characters only", "XYZ", "XYZ"},
	{"runs and singles", "12WB12W3B24WB", "WWWWWWWWWWWWBWWWWWWWWWWWWBBBWWWWWWWWWWWWWWWWWWWWWWWWB"},
}
