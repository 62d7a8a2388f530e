-- A ledger message id spells its row's key ("{campaign}-{recipient}"), so opens, dismisses and
-- receipts find their row by primary key: the index on message ids only cost a write per planned and
-- per sent message.
DROP INDEX deliveries_message;
