package checker

import (
	"fmt"
	"sort"
	"strings"

	"github.com/troika-db/troika/jepsen/history"
)

// Bank workload op names (history.Op.F).
const (
	BankTransfer = "transfer"
	BankRead     = "read"
)

// BankOptions configure CheckBank.
type BankOptions struct {
	// Accounts are the account names; a read returning any other account
	// is UnexpectedKey. Empty: any account is accepted.
	Accounts []string
	// Total is what the balances of every read must sum to.
	Total int64
	// AllowNegative accepts negative balances.
	AllowNegative bool
}

// CheckBank checks a bank workload: ops with F "transfer" (Value
// {"from": acct, "to": acct, "amount": n}; transfers are counted, not
// checked: whatever they did, the total is conserved) and F "read" (ok
// completion Value: a map from account to balance, a map[string]int64 or
// JSON object; a missing account or a nil balance is 0).
//
// Every ok read must sum (over all the accounts it returned) to
// opts.Total (else WrongTotal), return only opts.Accounts (else
// UnexpectedKey) and no negative balance unless opts.AllowNegative (else
// NegativeValue). Each is one anomaly per read.
//
// Stats: "transfers", "transfer-ok", "transfer-info" (info or never
// completed), "transfer-fail", "reads", "read-ok", "read-info",
// "read-fail" and the anomaly counts.
func CheckBank(ops []history.Op, opts BankOptions) (Result, error) {
	evs, err := events(ops)
	if err != nil {
		return Result{}, err
	}
	rep := newReport("bank", WrongTotal, UnexpectedKey, NegativeValue)
	for _, k := range []string{"transfers", "transfer-ok", "transfer-info", "transfer-fail", "reads", "read-ok", "read-info", "read-fail"} {
		rep.count(k, 0)
	}
	accounts := make(map[string]bool, len(opts.Accounts))
	for _, a := range opts.Accounts {
		accounts[a] = true
	}
	for i := range evs {
		e := &evs[i]
		st := e.status()
		switch e.inv.F {
		case BankTransfer:
			rep.count("transfers", 1)
			rep.count("transfer-"+string(st), 1)
		case BankRead:
			rep.count("reads", 1)
			rep.count("read-"+string(st), 1)
			if st != history.OK {
				continue
			}
			bal, err := toIntMap(e.cmp.Value)
			if err != nil {
				return Result{}, fmt.Errorf("checker: bank read op %d: %w", e.cmp.Index, err)
			}
			checkBankRead(rep, e, bal, accounts, opts)
		default:
			return Result{}, fmt.Errorf("checker: bank op %d: unknown f %q", e.inv.Index, e.inv.F)
		}
	}
	return rep.done(), nil
}

// checkBankRead checks one ok read's balances.
func checkBankRead(rep *report, e *event, bal map[string]int64, accounts map[string]bool, opts BankOptions) {
	names := make([]string, 0, len(bal))
	var sum int64
	for a, v := range bal {
		names = append(names, a)
		sum += v
	}
	sort.Strings(names)
	ix := e.index()
	if sum != opts.Total {
		rep.anomaly(WrongTotal, []int{ix}, "read at op %d sums to %d, not %d (off by %+d): %s",
			ix, sum, opts.Total, sum-opts.Total, balances(names, bal, 16))
	}
	if len(accounts) > 0 {
		var unknown []string
		for _, a := range names {
			if !accounts[a] {
				unknown = append(unknown, a)
			}
		}
		if len(unknown) > 0 {
			rep.anomaly(UnexpectedKey, []int{ix}, "read at op %d returned %d unexpected %s: %s",
				ix, len(unknown), plural(len(unknown), "account"), balances(unknown, bal, 16))
		}
	}
	if !opts.AllowNegative {
		var neg []string
		for _, a := range names {
			if bal[a] < 0 {
				neg = append(neg, a)
			}
		}
		if len(neg) > 0 {
			rep.anomaly(NegativeValue, []int{ix}, "read at op %d returned %d negative %s: %s",
				ix, len(neg), plural(len(neg), "balance"), balances(neg, bal, 16))
		}
	}
}

// balances formats up to max "account=balance" pairs of names.
func balances(names []string, bal map[string]int64, max int) string {
	if len(names) == 0 {
		return "no accounts"
	}
	parts := make([]string, 0, min(len(names), max)+1)
	for i, a := range names {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		parts = append(parts, fmt.Sprintf("%s=%d", a, bal[a]))
	}
	return strings.Join(parts, " ")
}
