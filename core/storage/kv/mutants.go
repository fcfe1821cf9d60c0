//go:build ankurah_mutants

package kv

import "fmt"

// mutant is the bug engines of this process run with (a constant in other builds).
var mutant = mutNone

// Mutant is one deliberate bug of the catalogue.
type Mutant struct {
	Name, Bug string
	m         mutation
}

// Mutants returns the catalogue of deliberate bugs (ankurah_mutants builds only).
func Mutants() []Mutant {
	out := make([]Mutant, 0, mutationCount-1)
	for m := mutNone + 1; m < mutationCount; m++ {
		d, ok := catalogue[m]
		if !ok {
			panic(fmt.Sprintf("kv: mutation %d has no description", m))
		}
		out = append(out, Mutant{Name: d[0], Bug: d[1], m: m})
	}
	return out
}

// SetMutant makes every engine of the process run with m's bug (the zero
// Mutant: none). Switch it only while no engine is in use.
func SetMutant(m Mutant) { mutant = m.m }

var catalogue = map[mutation][2]string{
	mutNoHeadCheck:                 {"NoHeadCheck", "expected heads are never checked"},
	mutStaleHeadAccepted:           {"StaleHeadAccepted", "an update whose expected head is stale is accepted"},
	mutExistingNewEntityAccepted:   {"ExistingNewEntityAccepted", "a 'new entity' write over a stored entity is accepted"},
	mutMissingEntityAccepted:       {"MissingEntityAccepted", "an update of an entity that is not stored is accepted"},
	mutConflictSkipsState:          {"ConflictSkipsState", "a conflicting state is skipped and the rest of the batch commits"},
	mutHeadCheckOutsideTxn:         {"HeadCheckOutsideTxn", "heads are checked on a snapshot before the write transaction (a race)"},
	mutBatchSecondWriteSeesStored:  {"BatchSecondWriteSeesStored", "an entity written twice in one batch: the second write is checked and indexed against the stored state"},
	mutEventDedupeByEntity:         {"EventDedupeByEntity", "events are deduplicated by entity, not event id: a batch keeps one event per entity"},
	mutNoEventLinks:                {"NoEventLinks", "entity→event links are not written"},
	mutGenesisNotListed:            {"GenesisNotListed", "EntityEvents leaves out the genesis event"},
	mutEntityEventsWholeCollection: {"EntityEventsWholeCollection", "EntityEvents lists the events of every entity of the collection"},
	mutGetEventsStopsAtMissing:     {"GetEventsStopsAtMissing", "GetEvents stops at the first missing id"},
	mutIndexNotMovedOnUpdate:       {"IndexNotMovedOnUpdate", "an update leaves the entity's index entries where they were"},
	mutOldIndexEntryKept:           {"OldIndexEntryKept", "an update adds the new index entry but keeps the old one"},
	mutMissingNotIndexed:           {"MissingNotIndexed", "a missing property gets no index entry (instead of NULL)"},
	mutNullIndexedLast:             {"NullIndexedLast", "NULL index entries sort after every value"},
	mutNoBackfill:                  {"NoBackfill", "an index declared late is not built for the stored states"},
	mutBackfillFirstBatchOnly:      {"BackfillFirstBatchOnly", "a late index is built for the first batch of states only"},
	mutDescIgnored:                 {"DescIgnored", "ORDER BY … DESC served by an index scans forward"},
	mutSpansNotReversed:            {"SpansNotReversed", "a reverse index scan walks its spans first to last"},
	mutOnlyFirstSpan:               {"OnlyFirstSpan", "an index scan reads only the first of several spans"},
	mutSpanLoExclusive:             {"SpanLoExclusive", "a span's lower bound is treated as exclusive"},
	mutLongBoundNotWidened:         {"LongBoundNotWidened", "an upper bound longer than an index key keeps is not widened"},
	mutSpansNotMerged:              {"SpansNotMerged", "spans that overlap once widened for long values are scanned twice"},
	mutLastBatchDropped:            {"LastBatchDropped", "index candidates of each full read batch, or of the last partial one, are dropped"},
	mutTieGroupCut:                 {"TieGroupCut", "an ordered index scan stops at the LIMIT without finishing the tie group"},
	mutLimitCountsUnmatched:        {"LimitCountsUnmatched", "an entity-id-ordered scan counts non-matching candidates towards the LIMIT"},
	mutLimitZeroUnlimited:          {"LimitZeroUnlimited", "LIMIT 0 is read as no limit"},
	mutCollectionUnterminated:      {"CollectionUnterminated", "collection names in keys are not terminated: a collection's scans run into another whose name it prefixes"},
	mutLookupFindsUnknown:          {"LookupFindsUnknown", "LookupCollection finds collections that do not exist"},
	mutRemoveRowKeepsIndex:         {"RemoveRowKeepsIndex", "RemoveRow of a state leaves its index entries"},
	mutClearKeepsEvents:            {"ClearKeepsEvents", "Clear leaves the events"},
	mutNewerFormatAccepted:         {"NewerFormatAccepted", "a store of a newer format version is opened"},
	mutClosedNotRefused:            {"ClosedNotRefused", "calls after Close are not refused"},
}
