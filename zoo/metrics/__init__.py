"""Evaluation metrics that live above the runtime's per-batch metrics (ranking for recommenders)."""
from .ranking import evaluate_leave_one_out, hit_ratio_ndcg, leave_one_out, sample_candidates

__all__ = ["evaluate_leave_one_out", "hit_ratio_ndcg", "leave_one_out", "sample_candidates"]
