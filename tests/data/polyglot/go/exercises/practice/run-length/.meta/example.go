package runlength

import (
	"strconv"
	"strings"
	"unicode"
)

func Encode(input string) string {
	var out strings.Builder
	runes := []rune(input)
	for i := 0; i < len(runes); {
		j := i
		for j < len(runes) && runes[j] == runes[i] {
			j++
		}
		if j-i > 1 {
			out.WriteString(strconv.Itoa(j - i))
		}
		out.WriteRune(runes[i])
		i = j
	}
	return out.String()
}

func Decode(input string) string {
	var out strings.Builder
	count := 0
	for _, r := range input {
		if unicode.IsDigit(r) {
			count = count*10 + int(r-'0')
			continue
		}
		if count == 0 {
			count = 1
		}
		out.WriteString(strings.Repeat(string(r), count))
		count = 0
	}
	return out.String()
}
