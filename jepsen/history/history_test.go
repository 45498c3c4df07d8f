package history

import (
	"bytes"
	"reflect"
	"testing"
)

func TestRoundTripAndPairs(t *testing.T) {
	ops := []Op{
		{Index: 0, Type: Invoke, Process: 1, Time: 10, F: "txn", Txn: []MicroOp{{F: "append", Key: "k1", Elem: 3}, {F: "r", Key: "k2"}}},
		{Index: 1, Type: Invoke, Process: 2, Time: 11, F: "write", Key: "r1", Value: float64(5)},
		{Index: 2, Type: OK, Process: 1, Time: 20, F: "txn", Txn: []MicroOp{{F: "append", Key: "k1", Elem: 3}, {F: "r", Key: "k2", Value: []int64{1, 2}}}},
		{Index: 3, Type: Info, Process: 2, Time: 30, F: "write", Key: "r1", Value: float64(5), Error: "timeout"},
		{Index: 4, Type: Invoke, Process: 3, Time: 40, F: "read", Key: "r1"},
	}
	var buf bytes.Buffer
	if err := Write(&buf, ops); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ops) {
		t.Fatalf("round trip:\n%+v\n%+v", back, ops)
	}
	pairs, err := Pairs(back)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 3 || pairs[0].Complete.Index != 2 || pairs[1].Complete.Type != Info || pairs[2].Complete != nil {
		t.Fatalf("pairs: %+v", pairs)
	}
}

func TestPairsRejectsMalformed(t *testing.T) {
	if _, err := Pairs([]Op{{Type: OK, Process: 1}}); err == nil {
		t.Fatal("completion without invoke accepted")
	}
	if _, err := Pairs([]Op{{Type: Invoke, Process: 1}, {Type: Invoke, Process: 1}}); err == nil {
		t.Fatal("double invoke accepted")
	}
	if _, err := Pairs([]Op{{Type: "bogus", Process: 1}}); err == nil {
		t.Fatal("unknown type accepted")
	}
}

func TestEmptyReadIsNotUnknown(t *testing.T) {
	ops := []Op{{Index: 0, Type: OK, Process: 1, F: "txn", Txn: []MicroOp{{F: "r", Key: "k", Value: []int64{}}, {F: "r", Key: "j"}}}}
	var buf bytes.Buffer
	if err := Write(&buf, ops); err != nil {
		t.Fatal(err)
	}
	back, err := Read(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if v := back[0].Txn[0].Value; v == nil || len(v) != 0 {
		t.Fatalf("empty read came back as %#v", v)
	}
	if v := back[0].Txn[1].Value; v != nil {
		t.Fatalf("unknown read came back as %#v", v)
	}
}

func TestWindowsAndClient(t *testing.T) {
	ops := []Op{
		{Index: 0, Type: Invoke, Process: 0, Time: 1, F: "read"},
		{Index: 1, Type: Info, Process: NemesisProcess, Time: 2, F: "start-partition", Value: "n1 | n2 n3"},
		{Index: 2, Type: OK, Process: 0, Time: 3, F: "read"},
		{Index: 3, Type: Info, Process: NemesisProcess, Time: 4, F: "start-kill", Value: "n2"},
		{Index: 4, Type: Info, Process: NemesisProcess, Time: 5, F: "stop-partition"},
	}
	if got := Client(ops); len(got) != 2 || got[1].Index != 2 {
		t.Fatalf("Client = %+v", got)
	}
	w := Windows(ops, 9)
	if len(w) != 2 || w[0] != (Window{Fault: "partition", Desc: "n1 | n2 n3", Start: 2, End: 5}) ||
		w[1] != (Window{Fault: "kill", Desc: "n2", Start: 4, End: 9}) {
		t.Fatalf("Windows = %+v", w)
	}
}
