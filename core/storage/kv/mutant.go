package kv

// mutation names a deliberate bug. Built with the tag ankurah_mutants, the
// engine can be switched to one of them (SetMutant), so that a test can check
// that conformance/storagetest notices each; in every other build mutant is
// the constant mutNone and the compiler drops the branches.
type mutation int

// The catalogue; mutants.go (ankurah_mutants) describes each.
const (
	mutNone mutation = iota
	mutNoHeadCheck
	mutStaleHeadAccepted
	mutExistingNewEntityAccepted
	mutMissingEntityAccepted
	mutConflictSkipsState
	mutHeadCheckOutsideTxn
	mutBatchSecondWriteSeesStored
	mutEventDedupeByEntity
	mutNoEventLinks
	mutGenesisNotListed
	mutEntityEventsWholeCollection
	mutGetEventsStopsAtMissing
	mutIndexNotMovedOnUpdate
	mutOldIndexEntryKept
	mutMissingNotIndexed
	mutNullIndexedLast
	mutNoBackfill
	mutBackfillFirstBatchOnly
	mutDescIgnored
	mutSpansNotReversed
	mutOnlyFirstSpan
	mutSpanLoExclusive
	mutLongBoundNotWidened
	mutSpansNotMerged
	mutLastBatchDropped
	mutTieGroupCut
	mutLimitCountsUnmatched
	mutLimitZeroUnlimited
	mutCollectionUnterminated
	mutLookupFindsUnknown
	mutRemoveRowKeepsIndex
	mutClearKeepsEvents
	mutNewerFormatAccepted
	mutClosedNotRefused
	mutationCount
)
