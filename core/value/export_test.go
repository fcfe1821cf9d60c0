package value

// UnmarshalGeneric decodes b as UnmarshalCBOR does without its fast path.
func UnmarshalGeneric(b []byte) (Value, error) {
	var v Value
	err := v.unmarshalGeneric(b)
	return v, err
}

// IsCanonicalJSON and ReencodeJSON expose the two ways canonicalJSON takes.
var (
	IsCanonicalJSON = isCanonicalJSON
	ReencodeJSON    = reencodeJSON
)
