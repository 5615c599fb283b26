package telemetry

import (
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// TestTraceRequest: spans encoded by traceRequest, decoded with the
// collector's own request type (a test import), field by field: resource
// and scope, ids, trace state, kind, times, attributes of every type,
// events, links, status, flags and dropped counts; spans grouped by
// resource and scope in the order they come.
func TestTraceRequest(t *testing.T) {
	start := time.Date(2026, 3, 29, 1, 59, 0, 0, time.UTC)
	end := start.Add(250 * time.Millisecond)
	startNs, endNs := uint64(start.UnixNano()), uint64(end.UnixNano())
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	sid, psid, lsid := trace.SpanID{1, 1, 1, 1, 1, 1, 1, 1}, trace.SpanID{2, 2, 2, 2, 2, 2, 2, 2}, trace.SpanID{3, 3, 3, 3, 3, 3, 3, 3}
	ts, _ := trace.ParseTraceState("sportello=1,other=x")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, TraceState: ts})
	remoteParent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: psid, TraceFlags: trace.FlagsSampled, Remote: true})
	localParent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: psid, TraceFlags: trace.FlagsSampled})
	linked := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: lsid, TraceState: ts, Remote: true})
	reserve := resource.NewSchemaless(attribute.String("service.name", "reserve"), attribute.String("service.namespace", "sportello"))
	confirm := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.40.0", attribute.String("service.name", "confirm"))
	scope := instrumentation.Scope{Name: "github.com/sportello/sportello/functions", Version: "1.2.3"}
	otelhttp := instrumentation.Scope{Name: "otelhttp", Version: "0.72.0", SchemaURL: "https://opentelemetry.io/schemas/1.26.0",
		Attributes: attribute.NewSet(attribute.String("lib", "http"))}
	wantReserve := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", str("reserve")), kv("service.namespace", str("sportello"))}}
	wantScope := &commonpb.InstrumentationScope{Name: scope.Name, Version: scope.Version}
	ids := func(s *tracepb.Span) *tracepb.Span { s.TraceId, s.SpanId = tid[:], sid[:]; return s }
	intV := func(i int64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_IntValue{IntValue: i}}
	}
	doubleV := func(f float64) *commonpb.AnyValue {
		return &commonpb.AnyValue{Value: &commonpb.AnyValue_DoubleValue{DoubleValue: f}}
	}
	const sampledLocal, sampledRemote = 0x101, 0x301 // W3C flags | has-is-remote | is-remote

	for _, tc := range []struct {
		name  string
		spans []tracetest.SpanStub
		want  []*tracepb.ResourceSpans
	}{
		{"a server span with every kind of attribute, an event, a link, an error", []tracetest.SpanStub{{
			Name: "POST /api/bookings", SpanContext: sc, Parent: remoteParent, SpanKind: trace.SpanKindServer, StartTime: start, EndTime: end,
			Attributes: []attribute.KeyValue{
				attribute.String("http.route", "/api/bookings"), attribute.Bool("late", false), attribute.Int64("desk", -3), attribute.Float64("ratio", 0.5),
				attribute.StringSlice("tags", []string{"a", ""}), attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("ids", []int64{0, 1 << 40}),
				attribute.Float64Slice("fs", []float64{1.5, 0}), attribute.ByteSlice("raw", []byte{0, 0xff}),
				attribute.Slice("mixed", attribute.StringValue("x"), attribute.IntValue(2)), attribute.Map("m", attribute.String("k", "v")),
				{Key: "empty"},
			},
			Events: []sdktrace.Event{{Name: "exception", Time: end, Attributes: []attribute.KeyValue{attribute.String("exception.message", "boom")}, DroppedAttributeCount: 2}},
			Links:  []sdktrace.Link{{SpanContext: linked, Attributes: []attribute.KeyValue{attribute.Int("n", 1)}, DroppedAttributeCount: 1}},
			Status: sdktrace.Status{Code: codes.Error, Description: "boom"}, DroppedAttributes: 4, DroppedEvents: 5, DroppedLinks: 6,
			Resource: reserve, InstrumentationScope: scope,
		}}, []*tracepb.ResourceSpans{{Resource: wantReserve, ScopeSpans: []*tracepb.ScopeSpans{{Scope: wantScope, Spans: []*tracepb.Span{ids(&tracepb.Span{
			TraceState: "sportello=1,other=x", ParentSpanId: psid[:], Flags: sampledRemote, Name: "POST /api/bookings", Kind: tracepb.Span_SPAN_KIND_SERVER,
			StartTimeUnixNano: startNs, EndTimeUnixNano: endNs,
			Attributes: []*commonpb.KeyValue{
				kv("http.route", str("/api/bookings")), kv("late", boolV(false)), kv("desk", intV(-3)), kv("ratio", doubleV(0.5)),
				kv("tags", arrayV([]*commonpb.AnyValue{str("a"), str("")})), kv("bs", arrayV([]*commonpb.AnyValue{boolV(true), boolV(false)})),
				kv("ids", arrayV([]*commonpb.AnyValue{intV(0), intV(1 << 40)})), kv("fs", arrayV([]*commonpb.AnyValue{doubleV(1.5), doubleV(0)})),
				kv("raw", &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: []byte{0, 0xff}}}),
				kv("mixed", arrayV([]*commonpb.AnyValue{str("x"), intV(2)})),
				kv("m", &commonpb.AnyValue{Value: &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: []*commonpb.KeyValue{kv("k", str("v"))}}}}),
				kv("empty", &commonpb.AnyValue{}),
			},
			Events: []*tracepb.Span_Event{{Name: "exception", TimeUnixNano: endNs, Attributes: []*commonpb.KeyValue{kv("exception.message", str("boom"))}, DroppedAttributesCount: 2}},
			Links: []*tracepb.Span_Link{{TraceId: tid[:], SpanId: lsid[:], TraceState: "sportello=1,other=x", Attributes: []*commonpb.KeyValue{kv("n", intV(1))},
				DroppedAttributesCount: 1, Flags: 0x300}},
			Status:                 &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: "boom"},
			DroppedAttributesCount: 4, DroppedEventsCount: 5, DroppedLinksCount: 6,
		})}}}}}},
		{"a client span under a local parent, status ok", []tracetest.SpanStub{{
			Name: "smtp send", SpanContext: sc, Parent: localParent, SpanKind: trace.SpanKindClient, StartTime: start, EndTime: end,
			Status: sdktrace.Status{Code: codes.Ok}, Resource: reserve, InstrumentationScope: scope,
		}}, []*tracepb.ResourceSpans{{Resource: wantReserve, ScopeSpans: []*tracepb.ScopeSpans{{Scope: wantScope, Spans: []*tracepb.Span{ids(&tracepb.Span{
			TraceState: "sportello=1,other=x", ParentSpanId: psid[:], Flags: sampledLocal, Name: "smtp send", Kind: tracepb.Span_SPAN_KIND_CLIENT,
			StartTimeUnixNano: startNs, EndTimeUnixNano: endNs, Status: &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK},
		})}}}}}},
		{"spans grouped by resource, then scope, in order", []tracetest.SpanStub{
			{Name: "one", SpanContext: sc, Resource: reserve, InstrumentationScope: scope},
			{Name: "two", SpanContext: sc, Resource: confirm, InstrumentationScope: otelhttp},
			{Name: "three", SpanContext: sc, Resource: reserve, InstrumentationScope: otelhttp},
			{Name: "four", SpanContext: sc, Resource: reserve, InstrumentationScope: scope},
		}, []*tracepb.ResourceSpans{
			{Resource: wantReserve, ScopeSpans: []*tracepb.ScopeSpans{
				{Scope: wantScope, Spans: []*tracepb.Span{
					ids(&tracepb.Span{Name: "one", TraceState: "sportello=1,other=x", Flags: sampledLocal, Status: &tracepb.Status{}}),
					ids(&tracepb.Span{Name: "four", TraceState: "sportello=1,other=x", Flags: sampledLocal, Status: &tracepb.Status{}}),
				}},
				{Scope: &commonpb.InstrumentationScope{Name: "otelhttp", Version: "0.72.0", Attributes: []*commonpb.KeyValue{kv("lib", str("http"))}},
					SchemaUrl: otelhttp.SchemaURL, Spans: []*tracepb.Span{
						ids(&tracepb.Span{Name: "three", TraceState: "sportello=1,other=x", Flags: sampledLocal, Status: &tracepb.Status{}}),
					}},
			}},
			{Resource: &resourcepb.Resource{Attributes: []*commonpb.KeyValue{kv("service.name", str("confirm"))}}, SchemaUrl: confirm.SchemaURL(),
				ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: "otelhttp", Version: "0.72.0", Attributes: []*commonpb.KeyValue{kv("lib", str("http"))}},
					SchemaUrl: otelhttp.SchemaURL, Spans: []*tracepb.Span{
						ids(&tracepb.Span{Name: "two", TraceState: "sportello=1,other=x", Flags: sampledLocal, Status: &tracepb.Status{}}),
					}}}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := &collectorpb.ExportTraceServiceRequest{}
			if err := proto.Unmarshal(traceRequest(tracetest.SpanStubs(tc.spans).Snapshots()), got); err != nil {
				t.Fatalf("not an ExportTraceServiceRequest: %v", err)
			}
			want := &collectorpb.ExportTraceServiceRequest{ResourceSpans: tc.want}
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Fatalf("decoded (-want +got):\n%s", d)
			}
		})
	}
}

// TestSpansLeaveWithoutPersonalData: the caller's address and browser and
// the request's path (which may hold a token), which otelhttp records on
// every request's span, are not exported; the rest of the span's
// attributes are.
func TestSpansLeaveWithoutPersonalData(t *testing.T) {
	span := tracetest.SpanStub{Name: "POST /api/holds", Attributes: []attribute.KeyValue{
		attribute.String("http.route", "/api/holds"), attribute.String("client.address", "203.0.113.7"),
		attribute.Int("client.port", 51000), attribute.String("network.peer.address", "10.0.0.9"),
		attribute.Int("network.peer.port", 40000), attribute.String("user_agent.original", "Mozilla/5.0 (Maria's phone)"),
		attribute.String("url.path", "/api/queue/v1.c2VjcmV0"), attribute.Int("http.response.status_code", 201),
	}}
	got := &collectorpb.ExportTraceServiceRequest{}
	if err := proto.Unmarshal(traceRequest(tracetest.SpanStubs{span}.Snapshots()), got); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range got.ResourceSpans[0].ScopeSpans[0].Spans[0].Attributes {
		keys = append(keys, kv.Key)
	}
	if want := []string{"http.route", "http.response.status_code"}; !slices.Equal(keys, want) {
		t.Fatalf("exported attributes %v, want %v", keys, want)
	}
}
