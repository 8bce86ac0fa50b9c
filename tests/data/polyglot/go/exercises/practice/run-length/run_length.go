package runlength

func Encode(input string) string {
	panic("Please implement the Encode function")
}

func Decode(input string) string {
	panic("Please implement the Decode function")
}
