package workload

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"

	"github.com/troika-db/troika/jepsen/checker"
	"github.com/troika-db/troika/jepsen/client"
	"github.com/troika-db/troika/jepsen/history"
	"github.com/troika-db/troika/slots"
)

// bank: accounts under one hash tag; transfers by WATCH, MGET, then
// MULTI DECRBY/INCRBY EXEC on the same connection; reads by MGET. The total
// must be conserved in every read and no balance may go negative.
type bank struct {
	accounts []string
	slot     int
}

const (
	bankAccounts = 5
	bankInitial  = 20 // per account
)

func newBank() *bank {
	w := &bank{}
	for i := 0; i < bankAccounts; i++ {
		w.accounts = append(w.accounts, "{jepsen-bank}:a"+strconv.Itoa(i))
	}
	w.slot = slots.SlotString(w.accounts[0])
	return w
}

func (w *bank) Name() string { return "bank" }

func (w *bank) Prepare(ctx context.Context, r *client.Router) error {
	if err := needCommands(ctx, r, w.Name(), "WATCH", "MULTI", "EXEC", "MGET", "MSET", "INCRBY", "DECRBY"); err != nil {
		return err
	}
	cmd := []string{"MSET"}
	for _, a := range w.accounts {
		cmd = append(cmd, a, strconv.Itoa(bankInitial))
	}
	reps, err := r.Exec(ctx, w.slot, [][]string{cmd})
	if err != nil {
		return fmt.Errorf("bank: initial balances: %w", err)
	}
	if reps[0].IsErr() {
		return fmt.Errorf("bank: initial balances: %s", reps[0].Str)
	}
	return nil
}

func (w *bank) Next(rng *rand.Rand) history.Op {
	if rng.Intn(2) == 0 {
		return history.Op{F: "read"}
	}
	from := rng.Intn(len(w.accounts))
	to := (from + 1 + rng.Intn(len(w.accounts)-1)) % len(w.accounts)
	return history.Op{F: "transfer", Value: map[string]any{"from": w.accounts[from], "to": w.accounts[to], "amount": int64(1 + rng.Intn(5))}}
}

func (w *bank) Invoke(ctx context.Context, r *client.Router, op history.Op) history.Op {
	if op.F == "read" {
		reps, err := r.Exec(ctx, w.slot, [][]string{append([]string{"MGET"}, w.accounts...)})
		if err != nil {
			return failed(op, err)
		}
		if reps[0].IsErr() {
			return errReply(op, reps[0])
		}
		bal := map[string]int64{}
		for i, e := range reps[0].Array {
			if e.Nil {
				continue
			}
			v, err := strconv.ParseInt(e.Str, 10, 64)
			if err != nil {
				return complete(op, client.Info, "MGET: "+err.Error())
			}
			bal[w.accounts[i]] = v
		}
		c := complete(op, client.OK, "")
		c.Value = bal
		return c
	}
	t := op.Value.(map[string]any)
	from, to, amt := t["from"].(string), t["to"].(string), t["amount"].(int64)
	reps, err := r.Exec(ctx, w.slot, [][]string{{"WATCH", from, to}, {"MGET", from, to}})
	if err != nil {
		return complete(op, client.Fail, err.Error()) // WATCH and MGET change nothing
	}
	for _, rep := range reps {
		if rep.IsErr() {
			return complete(op, client.Fail, rep.Str)
		}
	}
	addr := r.LastAddr()
	have, _ := strconv.ParseInt(reps[1].Array[0].Str, 10, 64)
	if have < amt {
		r.ExecSame(addr, [][]string{{"UNWATCH"}})
		return complete(op, client.Fail, fmt.Sprintf("insufficient funds: %d < %d", have, amt))
	}
	a := strconv.FormatInt(amt, 10)
	reps, err = r.ExecSame(addr, [][]string{{"MULTI"}, {"DECRBY", from, a}, {"INCRBY", to, a}, {"EXEC"}})
	if err != nil {
		return failed(op, err)
	}
	exec := reps[3]
	switch {
	case exec.IsErr():
		return errReply(op, exec)
	case exec.Nil:
		return complete(op, client.Fail, "EXEC aborted: a balance changed since WATCH")
	}
	return complete(op, client.OK, "")
}

func (w *bank) Final() []history.Op { return []history.Op{{F: "read"}} }

func (w *bank) Check(ops []history.Op, dir string) (Verdict, error) {
	res, err := checker.CheckBank(ops, checker.BankOptions{Accounts: w.accounts, Total: bankAccounts * bankInitial})
	if err != nil {
		return Verdict{}, fmt.Errorf("bank checker: %w", err)
	}
	return verdict("bank (total conserved, no negative balance)", res), nil
}
