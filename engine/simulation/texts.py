"""Resident report texts, as residents write them to the hotline, the app or a grid worker."""
from __future__ import annotations

import random

__all__ = ["report_text", "BACKGROUND_CATEGORIES"]

_TEXTS = {
    "water_leak": ["{b}栋{u}单元楼道漏水，地面全是水", "楼上漏水渗到我家天花板了，{b}栋{f}楼",
                   "{b}栋地下车库水管爆了，一直在漏水", "{b}栋{u}单元水管破裂漏水，请物业处理"],
    "waterlogging": ["{road}积水很深，车辆无法通行", "{road}下穿道积水已经漫过路沿",
                     "下大雨{road}路口积水严重，行人过不去"],
    "fire": ["{b}栋{f}楼冒烟了，疑似起火", "{b}栋有很大的烟味，像是着火了，快来人",
             "看到{b}栋{f}楼窗口有火光"],
    "gas_smell": ["{b}栋{u}单元楼道里闻到很浓的燃气味", "{b}栋{f}楼有煤气味，担心泄漏",
                  "家里厨房一股燃气味，{b}栋{u}单元"],
    "elevator": ["{b}栋{u}单元电梯困人，请速来救援", "{b}栋电梯突然停了，里面有人被困",
                 "{b}栋电梯门打不开，有老人被困在里面"],
    "noise": ["{b}栋楼下施工噪音太大，晚上睡不着", "{b}栋{f}楼装修噪音扰民", "广场舞音响声音太大"],
    "garbage": ["{b}栋门口垃圾堆了好几天没人清理", "垃圾桶满了，气味很大，{b}栋旁边"],
    "parking": ["{b}栋消防通道被车堵住了", "小区门口乱停车，出不去"],
    "road": ["{road}路面塌陷了一个坑", "{road}井盖松动，车压上去响"],
    "other": ["{b}栋路灯坏了好几天", "{b}栋单元门门禁坏了", "小区绿化带杂草很多没人修剪"],
}
BACKGROUND_CATEGORIES = [("noise", 3), ("garbage", 2), ("parking", 2), ("water_leak", 1),
                         ("road", 1), ("other", 3)]


def report_text(category: str, building: str, rng: random.Random) -> str:
    template = rng.choice(_TEXTS[category])
    number = int("".join(ch for ch in building if ch.isdigit()) or 1) % 30 + 1
    return template.format(b=number, u=rng.randint(1, 4), f=rng.randint(2, 30),
                           road=rng.choice(["解放路", "中山路", "民族路", "新华路", "长江路"]))
