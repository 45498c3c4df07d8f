package checker

import (
	"strings"
	"testing"

	"github.com/troika-db/troika/jepsen/history"
)

var bankOpts = BankOptions{Accounts: []string{"a", "b", "c"}, Total: 30}

func checkBank(opts BankOptions) func([]history.Op) (Result, error) {
	return func(ops []history.Op) (Result, error) { return CheckBank(ops, opts) }
}

func transfer(from, to string, amount int64) map[string]any {
	return map[string]any{"from": from, "to": to, "amount": amount}
}

func TestBankValid(t *testing.T) {
	var h hist
	h.inv(0, BankRead, "", nil)
	h.ok(0, map[string]int64{"a": 10, "b": 10, "c": 10})
	h.inv(1, BankTransfer, "", transfer("a", "b", 5))
	h.ok(1, nil)
	h.inv(1, BankTransfer, "", transfer("b", "c", 7))
	h.info(1)
	h.nemesis("start-partition")
	h.inv(2, BankTransfer, "", transfer("c", "a", 1))
	h.fail(2)
	h.inv(3, BankTransfer, "", transfer("c", "a", 2)) // never completes
	h.inv(0, BankRead, "", nil)
	h.ok(0, map[string]int64{"a": 5, "b": 25}) // c missing: 0
	h.inv(0, BankRead, "", nil)
	h.ok(0, map[string]any{"a": int64(5), "b": nil, "c": int64(25)}) // nil: 0
	h.inv(0, BankRead, "", nil)
	h.info(0)
	r := checkBoth(t, h.ops, checkBank(bankOpts))
	wantValid(t, r)
	wantStats(t, r, map[string]int{
		"transfers": 4, "transfer-ok": 1, "transfer-info": 2, "transfer-fail": 1,
		"reads": 4, "read-ok": 3, "read-info": 1,
	})
}

func TestBankAnomalies(t *testing.T) {
	var h hist
	h.inv(0, BankRead, "", nil)
	wrong := h.ok(0, map[string]int64{"a": 10, "b": 10, "c": 5})
	h.inv(0, BankRead, "", nil)
	neg := h.ok(0, map[string]int64{"a": -5, "b": 20, "c": 15})
	h.inv(0, BankRead, "", nil)
	unexp := h.ok(0, map[string]int64{"a": 10, "b": 10, "z": 10})
	h.inv(0, BankRead, "", nil)
	h.ok(0, nil) // nothing at all: sums to 0
	r := checkBoth(t, h.ops, checkBank(bankOpts))
	first := wantAnomalies(t, r, map[string]int{WrongTotal: 2, NegativeValue: 1, UnexpectedKey: 1})
	for typ, want := range map[string]struct {
		op   int
		text string
	}{
		WrongTotal:    {wrong, "read at op 1 sums to 25, not 30 (off by -5): a=10 b=10 c=5"},
		NegativeValue: {neg, "1 negative balance: a=-5"},
		UnexpectedKey: {unexp, "1 unexpected account: z=10"},
	} {
		a := first[typ]
		if len(a.Ops) != 1 || a.Ops[0] != want.op || !strings.Contains(a.Explanation, want.text) {
			t.Errorf("%s: got %+v, want op %d and %q", typ, a, want.op, want.text)
		}
	}
	// Negative balances allowed; any account accepted without a list.
	r = checkBoth(t, h.ops, checkBank(BankOptions{Total: 30, AllowNegative: true}))
	wantAnomalies(t, r, map[string]int{WrongTotal: 2, NegativeValue: 0, UnexpectedKey: 0})
}

func TestBankBadValues(t *testing.T) {
	var h hist
	h.inv(0, BankRead, "", nil)
	h.ok(0, []int64{10, 20})
	if _, err := CheckBank(h.ops, bankOpts); err == nil {
		t.Fatal("want an error for a read that is not a map")
	}
}
