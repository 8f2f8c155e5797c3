"""Boxes: what the localisation and detection tasks share, apart from the training loop.

grid.py     decode a DetectionHead's S×S cells into boxes, and postprocess (score threshold + NMS); exported
            verbatim with a detector's code, so the app and the exported model draw the same boxes
targets.py  encode ground-truth boxes into per-cell targets (and the localiser's 4 box numbers)
loss.py     focal loss (torchvision.ops.sigmoid_focal_loss) on objectness and classes, GIoU + L1 on boxes
metrics.py  mAP@0.5 and mAP@0.5:0.95, per-class AP and the precision-recall curve (torchmetrics)
"""
