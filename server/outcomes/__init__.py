"""What happens to each inline suggestion served: accepted whole or partly, dismissed or typed
over, and how much of the accepted text is still there 30 s and 5 min later.

``edits`` moves positions through document changes and measures retained text (pure);
``tracker`` follows each served suggestion from the document changes and the client's
acceptance reports; ``evolution.store.outcomes`` keeps the settled records as schema-versioned
JSONL in the data folder (local only, never sent anywhere), where completion fine-tuning reads
them.
"""
