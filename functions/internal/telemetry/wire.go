package telemetry

import (
	"math"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/encoding/protowire"
)

// The protobuf encoding of OTLP's messages, written field by field with
// protowire (see the package comment for why not with the generated
// types). The field numbers are opentelemetry-proto's, each named in a
// comment as Message.field; as in proto3, a scalar field at its zero value
// is left out, except where it is one of a oneof or an optional field.

// appendMessage appends field num holding the message that encode appends:
// encode writes the body in place, which is then moved up to make room
// for its length.
func appendMessage(b []byte, num protowire.Number, encode func([]byte) []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	start := len(b)
	b = encode(b)
	n := len(b) - start
	size := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, size)...)
	copy(b[start+size:], b[start:start+n])
	protowire.AppendVarint(b[:start], uint64(n))
	return b
}

func appendString(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	if len(v) == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendFixed64(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}

// appendDouble appends a double even when 0: a oneof's or an optional's.
func appendDouble(b []byte, num protowire.Number, f float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(f))
}

// count is a dropped count, as OTLP's uint32 (clamped).
func count(n int) uint64 {
	return uint64(min(max(n, 0), math.MaxUint32))
}

// unixNano is t in nanoseconds since the Unix epoch, 0 for the zero time.
func unixNano(t time.Time) uint64 {
	if t.IsZero() {
		return 0
	}
	return uint64(max(0, t.UnixNano()))
}

// appendResource appends field num, a Resource.
func appendResource(b []byte, num protowire.Number, res *resource.Resource) []byte {
	return appendMessage(b, num, func(b []byte) []byte {
		return appendKeyValues(b, 1, res.Attributes()) // Resource.attributes
	})
}

// appendScope appends field num, an InstrumentationScope.
func appendScope(b []byte, num protowire.Number, s instrumentation.Scope) []byte {
	return appendMessage(b, num, func(b []byte) []byte {
		b = appendString(b, 1, s.Name)                       // InstrumentationScope.name
		b = appendString(b, 2, s.Version)                    // .version
		return appendKeyValues(b, 3, s.Attributes.ToSlice()) // .attributes
	})
}

// appendKeyValues appends each of kvs as field num, a KeyValue.
func appendKeyValues(b []byte, num protowire.Number, kvs []attribute.KeyValue) []byte {
	for _, kv := range kvs {
		b = appendMessage(b, num, func(b []byte) []byte {
			b = appendString(b, 1, string(kv.Key))                                                   // KeyValue.key
			return appendMessage(b, 2, func(b []byte) []byte { return appendAnyValue(b, kv.Value) }) // .value
		})
	}
	return b
}

// appendAnyValue appends the body of an AnyValue holding v; an empty v is
// an AnyValue with no value set.
func appendAnyValue(b []byte, v attribute.Value) []byte {
	switch v.Type() {
	case attribute.STRING:
		b = protowire.AppendTag(b, 1, protowire.BytesType) // AnyValue.string_value
		return protowire.AppendString(b, v.AsString())
	case attribute.BOOL:
		b = protowire.AppendTag(b, 2, protowire.VarintType) // .bool_value
		return protowire.AppendVarint(b, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		b = protowire.AppendTag(b, 3, protowire.VarintType) // .int_value
		return protowire.AppendVarint(b, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		return appendDouble(b, 4, v.AsFloat64()) // .double_value
	case attribute.BYTESLICE:
		b = protowire.AppendTag(b, 7, protowire.BytesType) // .bytes_value
		return protowire.AppendBytes(b, v.AsByteSlice())
	case attribute.BOOLSLICE:
		return appendArray(b, v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		return appendArray(b, v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		return appendArray(b, v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		return appendArray(b, v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		return appendArray(b, v.AsSlice(), func(v attribute.Value) attribute.Value { return v })
	case attribute.MAP:
		return appendMessage(b, 6, func(b []byte) []byte { // .kvlist_value
			return appendKeyValues(b, 1, v.AsMap()) // KeyValueList.values
		})
	}
	return b
}

// appendArray appends AnyValue.array_value holding items.
func appendArray[T any](b []byte, items []T, value func(T) attribute.Value) []byte {
	return appendMessage(b, 5, func(b []byte) []byte {
		for _, it := range items {
			b = appendMessage(b, 1, func(b []byte) []byte { return appendAnyValue(b, value(it)) }) // ArrayValue.values
		}
		return b
	})
}
