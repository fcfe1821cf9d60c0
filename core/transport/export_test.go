package transport

// EncodeGeneric encodes m with the generic encoder alone, what Encode must
// write.
func EncodeGeneric(m *Message) ([]byte, error) { return encMode.Marshal(m) }
